//! Strategy ordering: given what is known about each target of a combo, the order in which
//! to try them for one request. Pure functions over [`Candidate`]s with an injected random
//! source, so every strategy's choices are tested exactly.

use std::time::Duration;

use rand::Rng;
use rand::seq::SliceRandom;

use super::Strategy;

/// What the strategies know about one target at the moment of choosing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Candidate {
    pub weight: u32,
    pub in_flight: usize,
    /// EWMA of time to first token; `None` until measured.
    pub ttft: Option<Duration>,
    /// Estimated cost of this request in micro-dollars; `None` when the price is unknown.
    pub cost: Option<u128>,
    /// The upstream said its rate-limit window is exhausted.
    pub quota_exhausted: bool,
    /// The circuit breaker would let a request through.
    pub available: bool,
}

/// The attempt order: every target once. Targets whose breaker is open go last (they are
/// skipped at attempt time unless the breaker has moved to half-open by then).
pub fn order(
    strategy: Strategy,
    cands: &[Candidate],
    cursor: usize,
    rng: &mut impl Rng,
) -> Vec<usize> {
    let n = cands.len();
    let mut idx: Vec<usize> = (0..n).collect();
    match strategy {
        Strategy::Fallback => {}
        Strategy::RoundRobin => {
            if n > 0 {
                idx.rotate_left(cursor % n);
            }
        }
        Strategy::Weighted => idx = weighted_order(cands, rng),
        Strategy::Random => idx.shuffle(rng),
        Strategy::LeastBusy => idx.sort_by_key(|&i| cands[i].in_flight),
        Strategy::Latency => {
            // Unmeasured targets count as fastest, so each gets explored.
            let key = |i: usize| cands[i].ttft.unwrap_or(Duration::ZERO);
            idx.sort_by_key(|&i| key(i));
            let avail: Vec<usize> = (0..n).filter(|&i| cands[i].available).collect();
            if avail.len() >= 2 {
                // Two distinct available targets at random; the faster one goes first.
                let i = rng.random_range(0..avail.len());
                let mut j = rng.random_range(0..avail.len() - 1);
                if j >= i {
                    j += 1;
                }
                let (a, b) = (avail[i], avail[j]);
                let first = if key(b) < key(a) { b } else { a };
                idx.retain(|&i| i != first);
                idx.insert(0, first);
            }
        }
        Strategy::Cost => {
            idx.sort_by_key(|&i| (cands[i].cost.is_none(), cands[i].cost.unwrap_or(0)))
        }
        Strategy::Quota => idx.sort_by_key(|&i| cands[i].quota_exhausted),
    }
    // Stable: the strategy's order is kept within each group.
    idx.sort_by_key(|&i| !cands[i].available);
    idx
}

/// Weighted sampling without replacement: the first pick is proportional to weight, then
/// the next among the rest, and so on.
fn weighted_order(cands: &[Candidate], rng: &mut impl Rng) -> Vec<usize> {
    let mut rest: Vec<usize> = (0..cands.len()).collect();
    let mut out = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let total: u64 = rest
            .iter()
            .map(|&i| u64::from(cands[i].weight.max(1)))
            .sum();
        let mut pick = rng.random_range(0..total);
        let mut chosen = 0;
        for (pos, &i) in rest.iter().enumerate() {
            let w = u64::from(cands[i].weight.max(1));
            if pick < w {
                chosen = pos;
                break;
            }
            pick -= w;
        }
        out.push(rest.remove(chosen));
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    fn cands(n: usize) -> Vec<Candidate> {
        vec![
            Candidate {
                weight: 1,
                available: true,
                ..Candidate::default()
            };
            n
        ]
    }

    #[test]
    fn fallback_keeps_order_and_puts_open_breakers_last() {
        let mut c = cands(3);
        c[0].available = false;
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(order(Strategy::Fallback, &c, 0, &mut rng), vec![1, 2, 0]);
    }

    #[test]
    fn round_robin_is_exact() {
        let c = cands(3);
        let mut rng = SmallRng::seed_from_u64(1);
        let firsts: Vec<usize> = (0..9)
            .map(|k| order(Strategy::RoundRobin, &c, k, &mut rng)[0])
            .collect();
        assert_eq!(firsts, vec![0, 1, 2, 0, 1, 2, 0, 1, 2]);
        assert_eq!(order(Strategy::RoundRobin, &c, 4, &mut rng), vec![1, 2, 0]);
    }

    #[test]
    fn weighted_three_to_one_over_4000_picks() {
        let mut c = cands(2);
        c[0].weight = 3;
        let mut rng = SmallRng::seed_from_u64(7);
        let firsts = (0..4000)
            .filter(|_| order(Strategy::Weighted, &c, 0, &mut rng)[0] == 0)
            .count();
        // Expected 3000; binomial sd ≈ 27, so ±150 is > 5 sd.
        assert!(
            (2850..=3150).contains(&firsts),
            "{firsts} of 4000 went to the weight-3 target"
        );
    }

    #[test]
    fn random_covers_every_target_about_evenly() {
        let c = cands(4);
        let mut rng = SmallRng::seed_from_u64(3);
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[order(Strategy::Random, &c, 0, &mut rng)[0]] += 1;
        }
        assert!(
            counts.iter().all(|&k| (850..=1150).contains(&k)),
            "{counts:?}"
        );
    }

    #[test]
    fn least_busy_prefers_fewest_in_flight() {
        let mut c = cands(3);
        c[0].in_flight = 5;
        c[1].in_flight = 2;
        c[2].in_flight = 9;
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(order(Strategy::LeastBusy, &c, 0, &mut rng), vec![1, 0, 2]);
    }

    #[test]
    fn latency_picks_the_faster_of_two() {
        let mut c = cands(2);
        c[0].ttft = Some(Duration::from_millis(400));
        c[1].ttft = Some(Duration::from_millis(50));
        let mut rng = SmallRng::seed_from_u64(5);
        for _ in 0..200 {
            assert_eq!(order(Strategy::Latency, &c, 0, &mut rng)[0], 1);
        }
    }

    #[test]
    fn latency_power_of_two_choices_rarely_picks_the_slowest() {
        let mut c = cands(4);
        for (i, ms) in [10u64, 20, 30, 400].into_iter().enumerate() {
            c[i].ttft = Some(Duration::from_millis(ms));
        }
        let mut rng = SmallRng::seed_from_u64(9);
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[order(Strategy::Latency, &c, 0, &mut rng)[0]] += 1;
        }
        assert_eq!(counts[3], 0, "the slowest never wins a pair: {counts:?}");
        assert!(counts[0] > counts[1] && counts[1] > counts[2], "{counts:?}");
    }

    #[test]
    fn cost_picks_the_cheaper_and_unknown_prices_last() {
        let mut c = cands(3);
        c[0].cost = None;
        c[1].cost = Some(900);
        c[2].cost = Some(100);
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(order(Strategy::Cost, &c, 0, &mut rng), vec![2, 1, 0]);
    }

    #[test]
    fn quota_skips_exhausted_targets() {
        let mut c = cands(3);
        c[0].quota_exhausted = true;
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(order(Strategy::Quota, &c, 0, &mut rng), vec![1, 2, 0]);
        c[0].quota_exhausted = false;
        assert_eq!(order(Strategy::Quota, &c, 0, &mut rng), vec![0, 1, 2]);
    }
}
