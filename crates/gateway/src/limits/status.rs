//! Whether Redis is serving the limits, for `/health/detailed`, logs and metrics: one
//! warning when it degrades, one line when it recovers, and counters in between.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;

/// The state of the shared (Redis) limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisStatus {
    /// No Redis configured: limits are per instance.
    Disabled,
    /// Limits are shared through Redis.
    Healthy,
    /// Redis failed; limits are per instance (memory) until it answers again.
    Degraded {
        since: SystemTime,
        last_error: String,
    },
}

impl RedisStatus {
    /// A short label for metrics and health output.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Healthy => "healthy",
            Self::Degraded { .. } => "degraded",
        }
    }
}

/// The health of a configured Redis backend.
#[derive(Debug)]
pub(super) struct Health {
    /// Read on every request without the lock.
    degraded: AtomicBool,
    detail: Mutex<Option<(SystemTime, String)>>,
    /// Checks served by memory instead of Redis.
    pub fallbacks: AtomicU64,
    /// Settlements that could not reach Redis (their leases expire by TTL; their budget
    /// reservations stay counted until the period ends).
    pub lost_settlements: AtomicU64,
}

impl Health {
    pub fn new() -> Self {
        Self {
            degraded: AtomicBool::new(false),
            detail: Mutex::new(None),
            fallbacks: AtomicU64::new(0),
            lost_settlements: AtomicU64::new(0),
        }
    }

    pub fn is_healthy(&self) -> bool {
        !self.degraded.load(Ordering::Acquire)
    }

    /// Records a failure; returns `true` when this failure degraded a healthy backend (the
    /// caller then starts probing for recovery).
    pub fn fail(&self, error: &str) -> bool {
        let mut detail = self.detail.lock();
        match detail.as_mut() {
            Some((_, last)) => {
                error.clone_into(last);
                false
            }
            None => {
                tracing::warn!(
                    error,
                    "Redis is unreachable: rate limits, concurrency and budgets fall back to \
                     per-instance memory until it answers again"
                );
                *detail = Some((SystemTime::now(), error.to_owned()));
                self.degraded.store(true, Ordering::Release);
                true
            }
        }
    }

    /// Records that Redis answered again.
    pub fn recover(&self) {
        let mut detail = self.detail.lock();
        if let Some((since, _)) = detail.take() {
            let down_for = SystemTime::now().duration_since(since).unwrap_or_default();
            tracing::info!(
                down_for_ms = u64::try_from(down_for.as_millis()).unwrap_or(u64::MAX),
                fallbacks = self.fallbacks.load(Ordering::Relaxed),
                "Redis answers again: limits are shared across instances again"
            );
            self.degraded.store(false, Ordering::Release);
        }
    }

    pub fn status(&self) -> RedisStatus {
        match &*self.detail.lock() {
            None => RedisStatus::Healthy,
            Some((since, last_error)) => RedisStatus::Degraded {
                since: *since,
                last_error: last_error.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transitions_are_reported() {
        let health = Health::new();
        assert_eq!(health.status(), RedisStatus::Healthy);
        assert!(health.fail("connection refused"), "healthy → degraded");
        assert!(!health.fail("still refused"), "already degraded");
        let RedisStatus::Degraded { last_error, .. } = health.status() else {
            panic!("expected degraded");
        };
        assert_eq!(last_error, "still refused");
        assert!(!health.is_healthy());
        health.recover();
        health.recover();
        assert!(health.is_healthy());
        assert!(health.fail("again"), "a new outage is a new transition");
    }
}
