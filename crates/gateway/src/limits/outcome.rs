//! What a check tells the caller: a [`Refusal`] saying which limit refused, for whom and when
//! to retry, or the [`RateHeaders`] of an admitted request in OpenAI's `x-ratelimit-*` form.

use std::fmt;
use std::time::Duration;

use super::spec::{BudgetPeriod, Who};

/// The `Retry-After` suggested when a concurrency limit refuses: a slot frees when any
/// request in flight ends, which cannot be predicted.
pub const CONCURRENCY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a request was not admitted. Nothing was counted for a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The requests-per-minute limit is reached.
    Requests {
        who: Who,
        limit: u64,
        retry_after: Duration,
    },
    /// The tokens-per-minute limit would be passed by this request's estimated tokens.
    Tokens {
        who: Who,
        limit: u64,
        requested: u64,
        retry_after: Duration,
    },
    /// As many requests as allowed are in flight.
    Concurrency { who: Who, limit: u64 },
    /// The budget of the current period is spent (spent and reserved, in micro-units).
    Budget {
        who: Who,
        spent: i64,
        limit: i64,
        period: BudgetPeriod,
        /// Time until the period ends; `None` for a total budget.
        resets_in: Option<Duration>,
    },
    /// The user's balance (cash + credit, less what is reserved or not yet written) does
    /// not cover this request's estimated cost. Not a rate limit: answered with 402.
    Balance {
        who: Who,
        /// Micro-units available when the request came.
        available: i64,
        /// The request's estimated cost, in micro-units.
        needed: i64,
    },
}

impl Refusal {
    /// The key or user whose limit refused.
    pub fn who(&self) -> &Who {
        match self {
            Self::Requests { who, .. }
            | Self::Tokens { who, .. }
            | Self::Concurrency { who, .. }
            | Self::Budget { who, .. }
            | Self::Balance { who, .. } => who,
        }
    }

    /// The wait to put in `Retry-After`: the exact wait for a rate limit, a hint for
    /// concurrency, the end of the period for a budget, `None` for a spent total budget.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Requests { retry_after, .. } | Self::Tokens { retry_after, .. } => {
                Some(*retry_after)
            }
            Self::Concurrency { .. } => Some(CONCURRENCY_RETRY_AFTER),
            Self::Budget { resets_in, .. } => *resets_in,
            // Only a deposit helps; no wait would.
            Self::Balance { .. } => None,
        }
    }

    /// A low-cardinality label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Requests { .. } => "requests",
            Self::Tokens { .. } => "tokens",
            Self::Concurrency { .. } => "concurrency",
            Self::Budget { .. } => "budget",
            Self::Balance { .. } => "balance",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Requests {
                who,
                limit,
                retry_after,
            } => write!(
                f,
                "rate limit reached for {who}: {limit} requests per minute; retry in {}",
                format_reset(*retry_after)
            ),
            Self::Tokens {
                who,
                limit,
                requested,
                ..
            } if requested > limit => write!(
                f,
                "this request's estimated {requested} tokens exceed the limit of {who}: \
                 {limit} tokens per minute; send a smaller request"
            ),
            Self::Tokens {
                who,
                limit,
                requested,
                retry_after,
            } => write!(
                f,
                "rate limit reached for {who}: {limit} tokens per minute \
                 (this request needs an estimated {requested}); retry in {}",
                format_reset(*retry_after)
            ),
            Self::Concurrency { who, limit } => write!(
                f,
                "concurrency limit reached for {who}: {limit} requests in flight; \
                 retry when one finishes"
            ),
            Self::Budget {
                who,
                spent,
                limit,
                period,
                resets_in,
            } => {
                write!(
                    f,
                    "{} budget of {who} is spent: {} of {}",
                    period.adjective(),
                    format_money(*spent),
                    format_money(*limit)
                )?;
                match resets_in {
                    Some(wait) => write!(f, "; it resets in {}", format_reset(*wait)),
                    None => f.write_str("; raise the budget to continue"),
                }
            }
            Self::Balance {
                who,
                available,
                needed,
            } => write!(
                f,
                "insufficient balance for {who}: {} available, this request needs up to {} \
                 (its estimated cost); add funds or send a smaller max_tokens",
                format_money(*available),
                format_money(*needed)
            ),
        }
    }
}

/// Micro-units as a decimal amount with at least two decimals (`12.5` → `12.50`).
fn format_money(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let frac = format!("{:06}", abs % 1_000_000);
    let frac = frac.trim_end_matches('0');
    let frac = format!("{frac:0<2}");
    format!("{sign}{}.{frac}", abs / 1_000_000)
}

/// The rate-limit state of an admitted request, for OpenAI's response headers. When both
/// the key and its user are limited, each dimension reports the stricter of the two (the
/// fewer remaining).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// `x-ratelimit-limit-requests`; `None` when requests are not limited (no request
    /// headers are sent then).
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-remaining-requests`, after this request.
    pub remaining_requests: u64,
    /// `x-ratelimit-reset-requests`: time until the oldest request still counted leaves
    /// the window, i.e. until `remaining_requests` next grows.
    pub reset_requests: Duration,
    /// `x-ratelimit-limit-tokens`; `None` when tokens are not limited.
    pub limit_tokens: Option<u64>,
    /// `x-ratelimit-remaining-tokens`, after this request's estimate.
    pub remaining_tokens: u64,
    /// `x-ratelimit-reset-tokens`, as for requests.
    pub reset_tokens: Duration,
}

impl RateHeaders {
    /// The headers to send, by name, values formatted as OpenAI does (`60`, `59`, `1s`,
    /// `6m0s`, `20ms`).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(6);
        if let Some(limit) = self.limit_requests {
            out.push(("x-ratelimit-limit-requests", limit.to_string()));
            out.push((
                "x-ratelimit-remaining-requests",
                self.remaining_requests.to_string(),
            ));
            out.push((
                "x-ratelimit-reset-requests",
                format_reset(self.reset_requests),
            ));
        }
        if let Some(limit) = self.limit_tokens {
            out.push(("x-ratelimit-limit-tokens", limit.to_string()));
            out.push((
                "x-ratelimit-remaining-tokens",
                self.remaining_tokens.to_string(),
            ));
            out.push(("x-ratelimit-reset-tokens", format_reset(self.reset_tokens)));
        }
        out
    }

    /// Keeps, per dimension, whichever of `self` and `other` has fewer remaining.
    pub(super) fn merge_stricter(&mut self, other: &RateHeaders) {
        if other.limit_requests.is_some()
            && (self.limit_requests.is_none() || other.remaining_requests < self.remaining_requests)
        {
            self.limit_requests = other.limit_requests;
            self.remaining_requests = other.remaining_requests;
            self.reset_requests = other.reset_requests;
        }
        if other.limit_tokens.is_some()
            && (self.limit_tokens.is_none() || other.remaining_tokens < self.remaining_tokens)
        {
            self.limit_tokens = other.limit_tokens;
            self.remaining_tokens = other.remaining_tokens;
            self.reset_tokens = other.reset_tokens;
        }
    }
}

/// A duration as OpenAI writes `x-ratelimit-reset-*` (Go's duration format, to the
/// millisecond): `0s`, `20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`.
pub fn format_reset(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, frac) = (rest / 1000, rest % 1000);
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        let frac = format!("{frac:03}");
        format!("{s}.{}s", frac.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::spec::Scope;

    #[test]
    fn reset_durations_use_openais_format() {
        let cases = [
            (0, "0s"),
            (20, "20ms"),
            (999, "999ms"),
            (1000, "1s"),
            (1500, "1.5s"),
            (17_142, "17.142s"),
            (360_000, "6m0s"),
            (61_250, "1m1.25s"),
            (3_723_000, "1h2m3s"),
        ];
        for (ms, want) in cases {
            assert_eq!(format_reset(Duration::from_millis(ms)), want, "{ms} ms");
        }
    }

    #[test]
    fn money_keeps_two_decimals_at_least() {
        assert_eq!(format_money(12_500_000), "12.50");
        assert_eq!(format_money(1_234_567), "1.234567");
        assert_eq!(format_money(0), "0.00");
        assert_eq!(format_money(-1_000), "-0.001");
    }

    #[test]
    fn refusals_say_which_limit_for_whom_and_when() {
        let who = Who {
            scope: Scope::User,
            id: "alice".into(),
        };
        let r = Refusal::Requests {
            who: who.clone(),
            limit: 100,
            retry_after: Duration::from_millis(600),
        };
        assert_eq!(
            r.to_string(),
            "rate limit reached for user 'alice': 100 requests per minute; retry in 600ms"
        );
        let b = Refusal::Budget {
            who,
            spent: 10_000_000,
            limit: 10_000_000,
            period: BudgetPeriod::Day,
            resets_in: Some(Duration::from_secs(3600)),
        };
        assert_eq!(
            b.to_string(),
            "daily budget of user 'alice' is spent: 10.00 of 10.00; it resets in 1h0m0s"
        );
        assert_eq!(b.retry_after(), Some(Duration::from_secs(3600)));
        let poor = Refusal::Balance {
            who: Who {
                scope: Scope::User,
                id: "bob".into(),
            },
            available: 400,
            needed: 615,
        };
        assert_eq!(
            poor.to_string(),
            "insufficient balance for user 'bob': 0.0004 available, this request needs up to \
             0.000615 (its estimated cost); add funds or send a smaller max_tokens"
        );
        assert_eq!(poor.retry_after(), None);
    }

    #[test]
    fn headers_are_sent_only_for_limited_dimensions() {
        let h = RateHeaders {
            limit_requests: Some(60),
            remaining_requests: 59,
            reset_requests: Duration::from_secs(1),
            ..RateHeaders::default()
        };
        assert_eq!(
            h.to_pairs(),
            vec![
                ("x-ratelimit-limit-requests", "60".to_owned()),
                ("x-ratelimit-remaining-requests", "59".to_owned()),
                ("x-ratelimit-reset-requests", "1s".to_owned()),
            ]
        );
    }
}
