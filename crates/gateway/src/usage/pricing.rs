//! Exact cost of one request: token counts × prices in integer micro-dollars, never floats.
//!
//! Prices are micro-dollars per million tokens ([`Prices`]), so `tokens × price` is the cost
//! in millionths of a micro-dollar. Every token class is multiplied and summed in `u128`
//! (a `u64 × u64` product always fits) and divided by one million once, at the end.
//!
//! **Rounding: half up.** A remainder of half a micro-dollar or more rounds up, less rounds
//! down, so one request's cost is off by at most half a micro-dollar and the errors of many
//! requests do not drift in one direction (ceil would overcharge every request by half a
//! micro-dollar on average).

use wire::Usage;

use crate::providers::Prices;

/// Prices are per this many tokens.
const TOKENS_PER_PRICE: u128 = 1_000_000;

/// Added before the division so that it rounds half up.
const HALF: u128 = TOKENS_PER_PRICE / 2;

/// The cost of `usage` at `prices`, in micro-dollars, rounded half up; `None` when the
/// model's input or output price is unknown.
///
/// - `input` tokens at the input price;
/// - `cache_read` tokens at the cache-read price, or the input price when there is none;
/// - `cache_write` tokens at the cache-write price, or the input price when there is none;
/// - `output` tokens at the output price. Reasoning tokens are part of `output` and are
///   priced with it, not a second time.
///
/// The cost never decreases when any token count grows; a total beyond `i64::MAX`
/// micro-dollars (nine trillion dollars) saturates there.
pub fn cost_micros(usage: &Usage, prices: &Prices) -> Option<i64> {
    let input = prices.input?;
    let output = prices.output?;
    let classes = [
        (usage.input, input),
        (usage.cache_read, prices.cache_read.unwrap_or(input)),
        (usage.cache_write, prices.cache_write.unwrap_or(input)),
        (usage.output, output),
    ];
    let scaled = classes.into_iter().fold(0u128, |sum, (tokens, price)| {
        // Cannot overflow: both factors are below 2^64.
        sum.saturating_add(u128::from(tokens) * u128::from(price))
    });
    let micros = scaled.saturating_add(HALF) / TOKENS_PER_PRICE;
    Some(i64::try_from(micros).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const fn usage(input: u64, cache_read: u64, cache_write: u64, output: u64) -> Usage {
        Usage {
            input,
            cache_read,
            cache_write,
            output,
            reasoning: 0,
        }
    }

    const fn prices(
        input: Option<u64>,
        output: Option<u64>,
        cache_read: Option<u64>,
        cache_write: Option<u64>,
    ) -> Prices {
        Prices {
            input,
            output,
            cache_read,
            cache_write,
        }
    }

    /// Claude-style prices: $3 in, $15 out, $0.30 cache read, $3.75 cache write.
    const CLAUDE: Prices = prices(
        Some(3_000_000),
        Some(15_000_000),
        Some(300_000),
        Some(3_750_000),
    );
    /// gpt-4o-mini: $0.15 in, $0.60 out, no cache prices listed.
    const MINI: Prices = prices(Some(150_000), Some(600_000), None, None);
    /// One micro-dollar per million tokens of anything: cost = round(tokens / 1e6).
    const UNIT: Prices = prices(Some(1), Some(1), Some(1), Some(1));

    #[test]
    fn table() {
        let cases: &[(&str, Usage, Prices, Option<i64>)] = &[
            ("nothing used", usage(0, 0, 0, 0), CLAUDE, Some(0)),
            // 1000 × 0.15 + 500 × 0.60 = 150 + 300 micro-dollars.
            ("input and output", usage(1000, 0, 0, 500), MINI, Some(450)),
            // 100 × 3 + 10_000 × 0.3 + 2_000 × 3.75 + 500 × 15 = 300 + 3000 + 7500 + 7500.
            (
                "cache tokens at their own rates",
                usage(100, 10_000, 2_000, 500),
                CLAUDE,
                Some(18_300),
            ),
            (
                "cache read alone at the cache-read rate",
                usage(0, 1_000_000, 0, 0),
                CLAUDE,
                Some(300_000),
            ),
            (
                "cache write alone at the cache-write rate",
                usage(0, 0, 1_000_000, 0),
                CLAUDE,
                Some(3_750_000),
            ),
            (
                "no cache prices: cache tokens at the input rate",
                usage(0, 1000, 1000, 0),
                MINI,
                Some(300),
            ),
            (
                "only a cache-read price: writes fall back to input",
                usage(0, 1000, 1000, 0),
                prices(Some(1_000_000), Some(2_000_000), Some(100_000), None),
                Some(100 + 1000),
            ),
            (
                "embeddings: output price zero",
                usage(8, 0, 0, 0),
                prices(Some(20_000), Some(0), None, None),
                Some(0),
            ),
            (
                "a million embedding tokens",
                usage(1_000_000, 0, 0, 0),
                prices(Some(20_000), Some(0), None, None),
                Some(20_000),
            ),
            // Rounding half up, at the boundaries.
            ("just below half", usage(499_999, 0, 0, 0), UNIT, Some(0)),
            (
                "exactly half rounds up",
                usage(500_000, 0, 0, 0),
                UNIT,
                Some(1),
            ),
            ("exactly one", usage(1_000_000, 0, 0, 0), UNIT, Some(1)),
            (
                "just below one and a half",
                usage(1_499_999, 0, 0, 0),
                UNIT,
                Some(1),
            ),
            (
                "one and a half rounds up",
                usage(1_500_000, 0, 0, 0),
                UNIT,
                Some(2),
            ),
            (
                "classes summed before rounding",
                usage(250_000, 125_000, 125_000, 0),
                UNIT,
                Some(1),
            ),
            (
                "one token below half a micro-dollar",
                usage(1, 0, 0, 0),
                prices(Some(499_999), Some(0), None, None),
                Some(0),
            ),
            (
                "one token at half a micro-dollar",
                usage(1, 0, 0, 0),
                prices(Some(500_000), Some(0), None, None),
                Some(1),
            ),
            // Unknown prices.
            (
                "input price unknown",
                usage(1, 0, 0, 1),
                prices(None, Some(1), None, None),
                None,
            ),
            (
                "output price unknown",
                usage(1, 0, 0, 1),
                prices(Some(1), None, None, None),
                None,
            ),
            (
                "only cache prices known",
                usage(0, 1, 1, 0),
                prices(None, None, Some(1), Some(1)),
                None,
            ),
            (
                "no prices at all",
                usage(0, 0, 0, 0),
                Prices::default(),
                None,
            ),
            // Saturation instead of overflow.
            (
                "everything at the maximum",
                usage(u64::MAX, u64::MAX, u64::MAX, u64::MAX),
                prices(
                    Some(u64::MAX),
                    Some(u64::MAX),
                    Some(u64::MAX),
                    Some(u64::MAX),
                ),
                Some(i64::MAX),
            ),
        ];
        for (name, usage, prices, want) in cases {
            assert_eq!(cost_micros(usage, prices), *want, "{name}");
        }
    }

    #[test]
    fn reasoning_is_priced_as_output_once() {
        let mut u = usage(0, 0, 0, 100);
        let plain = cost_micros(&u, &CLAUDE);
        u.reasoning = 80;
        assert_eq!(cost_micros(&u, &CLAUDE), plain);
        assert_eq!(plain, Some(1500));
    }

    fn any_prices() -> impl Strategy<Value = Prices> {
        (
            any::<u64>(),
            any::<u64>(),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(|(i, o, r, w)| prices(Some(i), Some(o), r, w))
    }

    fn any_usage() -> impl Strategy<Value = Usage> {
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>())
            .prop_map(|(i, r, w, o)| usage(i, r, w, o))
    }

    /// Realistic magnitudes, where nothing saturates.
    fn small_usage() -> impl Strategy<Value = Usage> {
        let n = 0u64..10_000_000;
        (n.clone(), n.clone(), n.clone(), n).prop_map(|(i, r, w, o)| usage(i, r, w, o))
    }

    fn small_prices() -> impl Strategy<Value = Prices> {
        let p = 0u64..1_000_000_000;
        (
            p.clone(),
            p.clone(),
            proptest::option::of(p.clone()),
            proptest::option::of(p),
        )
            .prop_map(|(i, o, r, w)| prices(Some(i), Some(o), r, w))
    }

    fn grow(u: Usage, class: usize, by: u64) -> Usage {
        let mut u = u;
        let field = match class {
            0 => &mut u.input,
            1 => &mut u.cache_read,
            2 => &mut u.cache_write,
            _ => &mut u.output,
        };
        *field = field.saturating_add(by);
        u
    }

    proptest! {
        #[test]
        fn cost_is_monotone_in_every_token_count(
            u in any_usage(),
            p in any_prices(),
            class in 0usize..4,
            by in any::<u64>(),
        ) {
            let before = cost_micros(&u, &p);
            let after = cost_micros(&grow(u, class, by), &p);
            prop_assert!(before.is_some() && after >= before, "{before:?} -> {after:?}");
        }

        #[test]
        fn cost_is_monotone_at_realistic_sizes(
            u in small_usage(),
            p in small_prices(),
            class in 0usize..4,
            by in 0u64..1_000_000,
        ) {
            let before = cost_micros(&u, &p);
            let after = cost_micros(&grow(u, class, by), &p);
            prop_assert!(after >= before, "{before:?} -> {after:?}");
        }

        /// Splitting a request in two changes the total by at most one micro-dollar of
        /// rounding: nothing is lost or counted twice.
        #[test]
        fn cost_is_additive_up_to_rounding(
            a in small_usage(),
            b in small_usage(),
            p in small_prices(),
        ) {
            let whole = cost_micros(&(a + b), &p).unwrap_or(-1);
            let parts = cost_micros(&a, &p).unwrap_or(-1) + cost_micros(&b, &p).unwrap_or(-1);
            prop_assert!((whole - parts).abs() <= 1, "{whole} vs {parts}");
        }
    }
}
