//! A circuit breaker: closed → open after too many failures → half-open probe → closed.
//!
//! One [`Breaker`] guards one thing that can fail on its own — a provider+model target, or a
//! credential. The router asks [`Breaker::try_acquire`] before sending and reports the outcome
//! with exactly one of [`Breaker::record_success`], [`Breaker::record_failure`] or
//! [`Breaker::release`], passing back the [`Admission`] it was given.
//!
//! - **Closed**: everything goes through. Each failure counts; the breaker opens when
//!   `consecutive_failures` failures happen in a row, or when the sliding window holds at
//!   least `min_requests` outcomes of which at least `error_rate` are failures.
//! - **Open**: nothing goes through for `open_for`.
//! - **Half-open**: after `open_for`, exactly one probe goes through. Its success closes the
//!   breaker (all counters reset); its failure opens it again for a fresh `open_for`; a
//!   release (an outcome that says nothing about health) frees the slot for another probe.
//!   A probe that never reports back is presumed lost after `open_for`, so a caller that
//!   forgets to report cannot wedge the breaker half-open for ever.
//!
//! Outcomes of requests admitted while closed that arrive after the breaker opened are
//! ignored: only the probe decides when an open breaker closes.
//!
//! The error-rate window is approximated by [`BUCKETS`] buckets of `window / BUCKETS` each:
//! the rate counts the current bucket plus the previous `BUCKETS - 1`, so an outcome is
//! forgotten between `0.9 × window` and `window` after it happened.

use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Number of buckets the error-rate window is split into.
pub const BUCKETS: usize = 10;

/// Shortest bucket, so a zero `window` cannot divide by zero.
const MIN_BUCKET: Duration = Duration::from_millis(1);

/// When a breaker opens and for how long. Durations are human (`30s`, `1m`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Open after this many failures in a row; `0` disables this rule.
    pub consecutive_failures: u32,
    /// Open when at least this share (0.0–1.0) of the outcomes in `window` are failures…
    pub error_rate: f64,
    /// …and the window holds at least this many outcomes.
    pub min_requests: u32,
    /// How far back the error rate looks.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// How long the breaker stays open before letting a probe through.
    #[serde(with = "humantime_serde")]
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            error_rate: 0.5,
            min_requests: 20,
            window: Duration::from_secs(60),
            open_for: Duration::from_secs(30),
        }
    }
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// How a request was let through; hand it back when reporting the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The breaker was closed.
    Normal,
    /// The one half-open probe.
    Probe,
}

/// A point-in-time view for `/health/detailed`. `state` is the state the next request would
/// see: an open breaker whose `open_for` has passed reports `half_open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerSnapshot {
    pub state: BreakerState,
    pub consecutive_failures: u32,
    pub window_requests: u32,
    pub window_failures: u32,
    /// Time left before a probe may go through, while open.
    pub opened_for_remaining_ms: Option<u64>,
}

/// A circuit breaker; see the module docs. Cheap to consult: one uncontended lock.
#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: State,
    consecutive: u32,
    window: Window,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed,
    Open {
        since: Instant,
    },
    /// `probe_since` is when the outstanding probe left, or `None` when the slot is free.
    HalfOpen {
        probe_since: Option<Instant>,
    },
}

impl Breaker {
    pub fn new(cfg: BreakerConfig) -> Self {
        let window = Window::new(cfg.window);
        Self {
            cfg,
            inner: Mutex::new(Inner {
                state: State::Closed,
                consecutive: 0,
                window,
            }),
        }
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.cfg
    }

    /// May a request go through now? See the module docs for the rules.
    #[must_use = "an admission must be reported back with record_success, record_failure or release"]
    pub fn try_acquire(&self) -> Option<Admission> {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        match inner.state {
            State::Closed => Some(Admission::Normal),
            State::Open { since } if self.elapsed(since, now) => {
                inner.state = State::HalfOpen {
                    probe_since: Some(now),
                };
                Some(Admission::Probe)
            }
            State::Open { .. } => None,
            State::HalfOpen { probe_since } if self.probe_free(probe_since, now) => {
                inner.state = State::HalfOpen {
                    probe_since: Some(now),
                };
                Some(Admission::Probe)
            }
            State::HalfOpen { .. } => None,
        }
    }

    /// The request succeeded. A probe's success closes the breaker and resets its counters.
    pub fn record_success(&self, admission: Admission) {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        match (admission, inner.state) {
            (Admission::Normal, State::Closed) => {
                inner.consecutive = 0;
                inner.window.record(now, false);
            }
            (Admission::Probe, State::HalfOpen { .. }) => {
                inner.state = State::Closed;
                inner.consecutive = 0;
                inner.window.clear();
            }
            _ => {}
        }
    }

    /// The request failed in a way that says the target is unhealthy (5xx, timeout, 429,
    /// connection error). A probe's failure opens the breaker again for a fresh `open_for`.
    pub fn record_failure(&self, admission: Admission) {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        match (admission, inner.state) {
            (Admission::Normal, State::Closed) => {
                inner.consecutive = inner.consecutive.saturating_add(1);
                inner.window.record(now, true);
                if self.should_open(&inner, now) {
                    inner.state = State::Open { since: now };
                }
            }
            (Admission::Probe, State::HalfOpen { .. }) => {
                inner.state = State::Open { since: now };
            }
            _ => {}
        }
    }

    /// The request ended with an outcome that says nothing about health (the client went
    /// away, a 4xx caused by the request). A probe's slot is freed for the next caller.
    pub fn release(&self, admission: Admission) {
        let mut inner = self.inner.lock();
        if let (Admission::Probe, State::HalfOpen { .. }) = (admission, inner.state) {
            inner.state = State::HalfOpen { probe_since: None };
        }
    }

    /// Would [`Breaker::try_acquire`] succeed now? Takes nothing.
    pub fn is_available(&self) -> bool {
        let now = Instant::now();
        match self.inner.lock().state {
            State::Closed => true,
            State::Open { since } => self.elapsed(since, now),
            State::HalfOpen { probe_since } => self.probe_free(probe_since, now),
        }
    }

    /// The state the next request would see (see [`BreakerSnapshot::state`]).
    pub fn state(&self) -> BreakerState {
        self.snapshot().state
    }

    pub fn snapshot(&self) -> BreakerSnapshot {
        let now = Instant::now();
        let inner = self.inner.lock();
        let (state, remaining) = match inner.state {
            State::Closed => (BreakerState::Closed, None),
            State::Open { since } => {
                let left = self
                    .cfg
                    .open_for
                    .saturating_sub(now.saturating_duration_since(since));
                if left.is_zero() {
                    (BreakerState::HalfOpen, None)
                } else {
                    (BreakerState::Open, Some(ceil_ms(left)))
                }
            }
            State::HalfOpen { .. } => (BreakerState::HalfOpen, None),
        };
        let (window_requests, window_failures) = inner.window.totals(now);
        BreakerSnapshot {
            state,
            consecutive_failures: inner.consecutive,
            window_requests,
            window_failures,
            opened_for_remaining_ms: remaining,
        }
    }

    fn elapsed(&self, since: Instant, now: Instant) -> bool {
        now.saturating_duration_since(since) >= self.cfg.open_for
    }

    /// The probe slot is free, or its probe is presumed lost.
    fn probe_free(&self, probe_since: Option<Instant>, now: Instant) -> bool {
        probe_since.is_none_or(|since| self.elapsed(since, now))
    }

    fn should_open(&self, inner: &Inner, now: Instant) -> bool {
        let n = self.cfg.consecutive_failures;
        if n > 0 && inner.consecutive >= n {
            return true;
        }
        let (requests, failures) = inner.window.totals(now);
        requests > 0
            && requests >= self.cfg.min_requests
            && f64::from(failures) / f64::from(requests) >= self.cfg.error_rate
    }
}

/// Milliseconds, rounded up so a breaker that is still open never shows 0.
fn ceil_ms(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// Outcome counts over the last `window`, in [`BUCKETS`] buckets of equal length.
#[derive(Debug)]
struct Window {
    origin: Instant,
    bucket_nanos: u128,
    buckets: [Bucket; BUCKETS],
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Which bucket-length period since `origin` these counts belong to.
    epoch: u64,
    requests: u32,
    failures: u32,
}

impl Window {
    fn new(window: Duration) -> Self {
        let bucket = (window / BUCKETS as u32).max(MIN_BUCKET);
        Self {
            origin: Instant::now(),
            bucket_nanos: bucket.as_nanos(),
            buckets: [Bucket::default(); BUCKETS],
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(since / self.bucket_nanos).unwrap_or(u64::MAX)
    }

    fn record(&mut self, now: Instant, failed: bool) {
        let epoch = self.epoch(now);
        let bucket = &mut self.buckets[slot(epoch)];
        if bucket.epoch != epoch {
            *bucket = Bucket {
                epoch,
                ..Bucket::default()
            };
        }
        bucket.requests = bucket.requests.saturating_add(1);
        if failed {
            bucket.failures = bucket.failures.saturating_add(1);
        }
    }

    /// `(requests, failures)` in the buckets still inside the window.
    fn totals(&self, now: Instant) -> (u32, u32) {
        let epoch = self.epoch(now);
        self.buckets
            .iter()
            .filter(|b| b.epoch <= epoch && epoch - b.epoch < BUCKETS as u64)
            .fold((0u32, 0u32), |(r, f), b| {
                (r.saturating_add(b.requests), f.saturating_add(b.failures))
            })
    }

    fn clear(&mut self) {
        self.buckets = [Bucket::default(); BUCKETS];
    }
}

fn slot(epoch: u64) -> usize {
    // The remainder is below BUCKETS, so it fits in usize.
    (epoch % BUCKETS as u64) as usize
}

#[cfg(test)]
mod tests;
