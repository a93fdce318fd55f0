//! Combos (model groups): an ordered list of targets tried under a strategy, with a bound on
//! attempts and time and the failure classes that move on to the next target.

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use serde::Serialize;

/// How a combo orders its targets for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Always the first healthy target; the next on failure.
    Fallback,
    RoundRobin,
    /// By weight, at random.
    Weighted,
    Random,
    /// Fewest requests in flight.
    LeastBusy,
    /// Power of two choices on the EWMA of time to first token.
    Latency,
    /// Cheapest for the estimated tokens.
    Cost,
    /// Skips targets whose upstream rate-limit window is exhausted until its reset.
    Quota,
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "fallback" | "fill_first" => Self::Fallback,
            "round_robin" => Self::RoundRobin,
            "weighted" => Self::Weighted,
            "random" => Self::Random,
            "least_busy" => Self::LeastBusy,
            "latency" => Self::Latency,
            "cost" => Self::Cost,
            "quota" => Self::Quota,
            other => {
                return Err(format!(
                    "unknown strategy '{other}' (expected fallback, round_robin, weighted, random, least_busy, latency, cost or quota)"
                ));
            }
        })
    }
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fallback => "fallback",
            Self::RoundRobin => "round_robin",
            Self::Weighted => "weighted",
            Self::Random => "random",
            Self::LeastBusy => "least_busy",
            Self::Latency => "latency",
            Self::Cost => "cost",
            Self::Quota => "quota",
        }
    }
}

/// The failure classes that may move a request on to the next target. Anything else (a 400,
/// a 401 from the upstream, …) is returned to the client at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryOn {
    pub connect: bool,
    pub timeout: bool,
    pub rate_limit: bool,
    pub server_error: bool,
    pub context_length: bool,
}

impl RetryOn {
    pub const ALL: Self = Self {
        connect: true,
        timeout: true,
        rate_limit: true,
        server_error: true,
        context_length: true,
    };

    pub fn parse(items: &[String]) -> Result<Self, String> {
        let mut r = Self {
            connect: false,
            timeout: false,
            rate_limit: false,
            server_error: false,
            context_length: false,
        };
        for item in items {
            match item.as_str() {
                "connect" => r.connect = true,
                "timeout" => r.timeout = true,
                "rate_limit" | "429" => r.rate_limit = true,
                "server_error" | "5xx" => r.server_error = true,
                "context_length" => r.context_length = true,
                other => {
                    return Err(format!(
                        "unknown failure class '{other}' (expected connect, timeout, rate_limit, server_error, context_length)"
                    ));
                }
            }
        }
        Ok(r)
    }
}

/// Retries of one target before moving on: exponential backoff with full jitter, or the
/// upstream's `Retry-After` when it is longer, never past the request's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryPolicy {
    /// Attempts on one target (1: no retry).
    pub per_target: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    /// The pause before retry number `n + 1` of one target.
    pub fn backoff(&self, n: u32) -> Duration {
        super::health::backoff(n, self.base, self.cap)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            per_target: 1,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(10),
        }
    }
}

/// One target of a combo, with virtual models already expanded to provider + model.
#[derive(Debug, Clone)]
pub struct ComboTarget {
    pub provider: String,
    pub model: String,
    /// Defaults (a virtual model's `params`): applied where the client set none.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The combo's per-target `params`: replace whatever the client sent.
    pub overrides: serde_json::Map<String, serde_json::Value>,
    pub weight: u32,
}

#[derive(Debug)]
pub struct Combo {
    pub name: String,
    pub strategy: Strategy,
    pub targets: Vec<ComboTarget>,
    pub max_attempts: u32,
    pub deadline: Duration,
    pub retry_on: RetryOn,
    pub description: Option<String>,
    /// Round-robin position.
    pub cursor: AtomicUsize,
}

/// `match` → `target`, checked in order after exact names and `provider/model`.
#[derive(Debug, Clone)]
pub struct Wildcard {
    pub pattern: String,
    pub target: WildcardTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WildcardTarget {
    /// The requested name goes to this provider as the model.
    Provider(String),
    /// A virtual model or combo stands in for the requested name.
    Name(String),
}

/// Glob match with `*` standing for any run of characters.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == name;
    };
    if parts.len() == 1 {
        return pattern == name;
    }
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("claude-*", "claude-sonnet-4"));
        assert!(!glob_match("claude-*", "gpt-4o"));
        assert!(glob_match("*-mini", "gpt-4o-mini"));
        assert!(glob_match("gpt-*-mini", "gpt-4o-mini"));
        assert!(!glob_match("gpt-*-mini", "gpt-mini"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("a*a", "aa"));
        assert!(!glob_match("a*a", "a"));
    }
}
