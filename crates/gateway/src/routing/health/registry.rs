//! Health per routing target (provider id + upstream model): its breaker, time-to-first-token
//! average, upstream quota, in-flight count and last error, kept in one shared registry.
//!
//! The registry is read-mostly: a lookup takes a read lock on a two-level map keyed by
//! provider then model (so `&str` keys look up without allocating); only the first use of a
//! target takes the write lock. The map holds at most `capacity` targets (10 000 by default),
//! because model names may come from clients. When it is full, the least recently looked-up
//! target that nobody holds is evicted (a linear scan, paid only when adding to a full map);
//! if every target is held, the new one is handed out untracked — it works for its caller
//! but is not remembered or listed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};
use serde::{Serialize, Serializer};

use super::breaker::{Admission, Breaker, BreakerConfig, BreakerSnapshot};
use super::ewma::Ewma;
use super::quota::{Quota, QuotaSnapshot};

/// How many targets a registry tracks by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Longest error message kept, in characters; longer ones are cut and end with `…`.
pub const MAX_ERROR_CHARS: usize = 500;

/// The most recent error seen from a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastError {
    pub message: String,
    #[serde(rename = "at_unix_ms", serialize_with = "unix_ms")]
    pub at: SystemTime,
}

/// A point-in-time view of one target for `/health/detailed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetSnapshot {
    pub breaker: BreakerSnapshot,
    pub in_flight: usize,
    pub ewma_ttft_ms: Option<u64>,
    pub quota: QuotaSnapshot,
    pub last_error: Option<LastError>,
    pub successes: u64,
    pub failures: u64,
}

/// Everything the router knows about the health of one target.
#[derive(Debug)]
pub struct TargetHealth {
    pub breaker: Breaker,
    pub ttft: Ewma,
    pub quota: Quota,
    in_flight: AtomicUsize,
    last_error: Mutex<Option<LastError>>,
    successes: AtomicU64,
    failures: AtomicU64,
    /// Registry clock tick of the last lookup, for eviction.
    last_used: AtomicU64,
}

impl TargetHealth {
    pub fn new(cfg: BreakerConfig) -> Self {
        Self {
            breaker: Breaker::new(cfg),
            ttft: Ewma::default(),
            quota: Quota::new(),
            in_flight: AtomicUsize::new(0),
            last_error: Mutex::new(None),
            successes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_used: AtomicU64::new(0),
        }
    }

    /// Requests to this target that have entered and not yet finished.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts one request in flight until the guard is dropped.
    #[must_use = "the request counts as in flight only while the guard is held"]
    pub fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightGuard {
            target: Arc::clone(self),
        }
    }

    /// The request succeeded: reports it to the breaker, counts it, and feeds the
    /// time-to-first-token average when one was measured.
    pub fn record_success(&self, admission: Admission, ttft: Option<Duration>) {
        self.breaker.record_success(admission);
        self.successes.fetch_add(1, Ordering::Relaxed);
        if let Some(ttft) = ttft {
            self.ttft.observe(ttft);
        }
    }

    /// The request failed in a way that counts against the target's health: reports it to
    /// the breaker, counts it, and keeps the message as the last error.
    pub fn record_failure(&self, admission: Admission, message: String) {
        self.breaker.record_failure(admission);
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.record_error(message);
    }

    /// Keeps `message` (cut to [`MAX_ERROR_CHARS`]) and the time as the last error, without
    /// touching the breaker or the counters.
    pub fn record_error(&self, mut message: String) {
        if let Some((cut, _)) = message.char_indices().nth(MAX_ERROR_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        *self.last_error.lock() = Some(LastError {
            message,
            at: SystemTime::now(),
        });
    }

    pub fn snapshot(&self) -> TargetSnapshot {
        TargetSnapshot {
            breaker: self.breaker.snapshot(),
            in_flight: self.in_flight(),
            ewma_ttft_ms: self
                .ttft
                .get()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            quota: self.quota.snapshot(),
            last_error: self.last_error.lock().clone(),
            successes: self.successes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

/// Holds one request's place in [`TargetHealth::in_flight`]; releases it when dropped.
#[derive(Debug)]
pub struct InFlightGuard {
    target: Arc<TargetHealth>,
}

impl InFlightGuard {
    pub fn target(&self) -> &Arc<TargetHealth> {
        &self.target
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.target.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Health for every target, shared by all requests. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HealthRegistry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: BreakerConfig,
    capacity: usize,
    clock: AtomicU64,
    map: RwLock<Targets>,
}

#[derive(Debug, Default)]
struct Targets {
    by_provider: HashMap<String, HashMap<String, Arc<TargetHealth>>>,
    len: usize,
}

impl Targets {
    fn get(&self, provider: &str, model: &str) -> Option<&Arc<TargetHealth>> {
        self.by_provider.get(provider)?.get(model)
    }

    /// Removes the least recently used target nobody else holds; false if there is none.
    fn evict_idle_lru(&mut self) -> bool {
        let victim = self
            .by_provider
            .iter()
            .flat_map(|(p, models)| models.iter().map(move |(m, t)| (p, m, t)))
            .filter(|(_, _, t)| Arc::strong_count(t) == 1)
            .min_by_key(|(_, _, t)| t.last_used.load(Ordering::Relaxed))
            .map(|(p, m, _)| (p.clone(), m.clone()));
        let Some((provider, model)) = victim else {
            return false;
        };
        if let Some(models) = self.by_provider.get_mut(&provider) {
            models.remove(&model);
            if models.is_empty() {
                self.by_provider.remove(&provider);
            }
        }
        self.len -= 1;
        tracing::debug!(provider, model, "health registry full: evicted idle target");
        true
    }
}

impl Default for HealthRegistry {
    fn default() -> Self {
        Self::new(BreakerConfig::default())
    }
}

impl HealthRegistry {
    /// A registry whose targets' breakers use `cfg`, tracking up to [`DEFAULT_CAPACITY`].
    pub fn new(cfg: BreakerConfig) -> Self {
        Self::with_capacity(cfg, DEFAULT_CAPACITY)
    }

    pub fn with_capacity(cfg: BreakerConfig, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                cfg,
                capacity,
                clock: AtomicU64::new(0),
                map: RwLock::new(Targets::default()),
            }),
        }
    }

    /// The health of `provider`'s `model`, created on first use.
    pub fn target(&self, provider: &str, model: &str) -> Arc<TargetHealth> {
        let tick = self.inner.clock.fetch_add(1, Ordering::Relaxed);
        let touch = |t: &Arc<TargetHealth>| {
            t.last_used.store(tick, Ordering::Relaxed);
            Arc::clone(t)
        };
        if let Some(t) = self.inner.map.read().get(provider, model) {
            return touch(t);
        }
        let mut map = self.inner.map.write();
        if let Some(t) = map.get(provider, model) {
            return touch(t);
        }
        let target = Arc::new(TargetHealth::new(self.inner.cfg.clone()));
        target.last_used.store(tick, Ordering::Relaxed);
        if map.len >= self.inner.capacity && !map.evict_idle_lru() {
            tracing::debug!(provider, model, "health registry full: target not tracked");
            return target;
        }
        map.by_provider
            .entry(provider.to_owned())
            .or_default()
            .insert(model.to_owned(), Arc::clone(&target));
        map.len += 1;
        target
    }

    /// The health of a target already tracked, without creating it.
    pub fn get(&self, provider: &str, model: &str) -> Option<Arc<TargetHealth>> {
        self.inner.map.read().get(provider, model).cloned()
    }

    /// How many targets are tracked.
    pub fn len(&self) -> usize {
        self.inner.map.read().len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every tracked target, sorted by provider then model.
    pub fn snapshot(&self) -> Vec<(String, String, TargetSnapshot)> {
        let targets: Vec<(String, String, Arc<TargetHealth>)> = {
            let map = self.inner.map.read();
            map.by_provider
                .iter()
                .flat_map(|(p, models)| {
                    models
                        .iter()
                        .map(move |(m, t)| (p.clone(), m.clone(), Arc::clone(t)))
                })
                .collect()
        };
        let mut out: Vec<_> = targets
            .into_iter()
            .map(|(p, m, t)| (p, m, t.snapshot()))
            .collect();
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    }
}

fn unix_ms<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let ms = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    s.serialize_u64(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
