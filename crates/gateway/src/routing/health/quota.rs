//! The upstream's own rate-limit window, read from its response headers, so the `quota`
//! strategy can skip a target whose window is spent until that window resets.
//!
//! Two header families are understood:
//! - OpenAI (and most OpenAI-compatible servers): `x-ratelimit-remaining-{requests,tokens}`
//!   with `x-ratelimit-reset-{requests,tokens}` as a duration from now (`1s`, `6m0s`, `20ms`).
//! - Anthropic: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-remaining`
//!   with `…-reset` as an RFC 3339 timestamp, turned into an [`Instant`] through the offset
//!   from the wall clock.
//!
//! A remaining count of 0 marks the target exhausted until that window's reset (capped at
//! [`MAX_EXHAUSTION`]; [`FALLBACK_RESET`] when the reset is missing or unreadable). Exhaustion
//! only ever grows: a later, more hopeful header does not shorten it, because responses to
//! requests sent earlier arrive out of order; time passing ends it. Negative counts (Azure
//! sends `-1` for "not reported") and malformed values are ignored.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::time::Instant;

use super::timefmt::{parse_go_duration, parse_rfc3339};

/// How long a spent window is assumed to last when its reset cannot be read.
pub const FALLBACK_RESET: Duration = Duration::from_secs(1);

/// The longest exhaustion believed from one header (daily limits reset within a day).
pub const MAX_EXHAUSTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Which limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaWindow {
    Requests,
    Tokens,
    InputTokens,
    OutputTokens,
    /// Set through [`Quota::mark_exhausted`], e.g. a 429 with `Retry-After`.
    RateLimited,
}

/// A point-in-time view for `/health/detailed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaSnapshot {
    /// Time left until the spent window resets; `None` when not exhausted.
    pub exhausted_for_ms: Option<u64>,
    pub exhausted_by: Option<QuotaWindow>,
    /// The last reported remaining requests.
    pub remaining_requests: Option<u64>,
    /// The last reported remaining tokens (the lowest of the token windows reported).
    pub remaining_tokens: Option<u64>,
}

/// Remaining-count stored when none was reported.
const UNKNOWN: u64 = u64::MAX;

/// Rate-limit state for one target. Reading it is lock-free; writers take a small lock so
/// the deadline and its reason change together.
#[derive(Debug)]
pub struct Quota {
    origin: Instant,
    /// Nanoseconds after `origin`, plus one, until which the window is spent; 0 for never.
    until: AtomicU64,
    reason: Mutex<Option<QuotaWindow>>,
    remaining_requests: AtomicU64,
    remaining_tokens: AtomicU64,
}

impl Default for Quota {
    fn default() -> Self {
        Self::new()
    }
}

/// How a window's reset header is written.
#[derive(Clone, Copy)]
enum Reset {
    /// A duration from now (OpenAI).
    After,
    /// An RFC 3339 timestamp (Anthropic).
    At,
}

/// `(window, remaining header, reset header, reset format)` for every window understood.
const WINDOWS: [(QuotaWindow, &str, &str, Reset); 6] = [
    (
        QuotaWindow::Requests,
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        Reset::After,
    ),
    (
        QuotaWindow::Tokens,
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
        Reset::After,
    ),
    (
        QuotaWindow::Requests,
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
        Reset::At,
    ),
    (
        QuotaWindow::Tokens,
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
        Reset::At,
    ),
    (
        QuotaWindow::InputTokens,
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-reset",
        Reset::At,
    ),
    (
        QuotaWindow::OutputTokens,
        "anthropic-ratelimit-output-tokens-remaining",
        "anthropic-ratelimit-output-tokens-reset",
        Reset::At,
    ),
];

impl Quota {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            until: AtomicU64::new(0),
            reason: Mutex::new(None),
            remaining_requests: AtomicU64::new(UNKNOWN),
            remaining_tokens: AtomicU64::new(UNKNOWN),
        }
    }

    /// Reads the rate-limit headers of one upstream response (any status).
    pub fn observe(&self, headers: &HeaderMap) {
        self.observe_at(headers, Instant::now(), SystemTime::now());
    }

    /// [`Quota::observe`] against given clocks, for tests.
    pub(super) fn observe_at(&self, headers: &HeaderMap, now: Instant, wall: SystemTime) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let mut tokens: Option<u64> = None;
        for (window, remaining, reset, format) in WINDOWS {
            let Some(left) = header(remaining).and_then(|v| v.trim().parse::<u64>().ok()) else {
                continue;
            };
            match window {
                QuotaWindow::Requests => self.remaining_requests.store(left, Ordering::Relaxed),
                _ => tokens = Some(tokens.map_or(left, |t| t.min(left))),
            }
            if left > 0 {
                continue;
            }
            let wait = header(reset)
                .and_then(|v| match format {
                    Reset::After => parse_go_duration(v),
                    Reset::At => {
                        parse_rfc3339(v).map(|at| at.duration_since(wall).unwrap_or(Duration::ZERO))
                    }
                })
                .unwrap_or(FALLBACK_RESET);
            self.raise(now + wait.min(MAX_EXHAUSTION), window);
        }
        if let Some(t) = tokens {
            self.remaining_tokens.store(t, Ordering::Relaxed);
        }
    }

    /// The upstream said it is rate-limited until `until` (a 429 with `Retry-After`).
    pub fn mark_exhausted(&self, until: Instant) {
        self.raise(until, QuotaWindow::RateLimited);
    }

    /// When the spent window resets; `None` when it is not spent (or has reset).
    pub fn exhausted_until(&self) -> Option<Instant> {
        let stored = self.until.load(Ordering::Acquire);
        if stored == 0 {
            return None;
        }
        let until = self.origin.checked_add(Duration::from_nanos(stored - 1))?;
        (until > Instant::now()).then_some(until)
    }

    pub fn is_exhausted(&self) -> bool {
        self.exhausted_until().is_some()
    }

    pub fn snapshot(&self) -> QuotaSnapshot {
        let now = Instant::now();
        let until = self.exhausted_until();
        let known = |v: u64| (v != UNKNOWN).then_some(v);
        QuotaSnapshot {
            exhausted_for_ms: until.map(|u| {
                let left = u
                    .saturating_duration_since(now)
                    .as_nanos()
                    .div_ceil(1_000_000);
                u64::try_from(left).unwrap_or(u64::MAX)
            }),
            exhausted_by: until.and(*self.reason.lock()),
            remaining_requests: known(self.remaining_requests.load(Ordering::Relaxed)),
            remaining_tokens: known(self.remaining_tokens.load(Ordering::Relaxed)),
        }
    }

    /// Extends the exhaustion to `until` if that is later than the current one.
    fn raise(&self, until: Instant, window: QuotaWindow) {
        let since = until.saturating_duration_since(self.origin).as_nanos();
        let stored = u64::try_from(since)
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        let mut reason = self.reason.lock();
        if stored > self.until.load(Ordering::Acquire) {
            self.until.store(stored, Ordering::Release);
            *reason = Some(window);
        }
    }
}

#[cfg(test)]
mod tests;
