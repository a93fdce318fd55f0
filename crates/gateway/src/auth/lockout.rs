//! Lockout after repeated authentication failures from one address: after
//! [`FREE_FAILURES`] failures the address waits 1 s, doubling with each further failure up to
//! 15 minutes. A success clears it. Bounded: at most [`MAX_TRACKED`] addresses are tracked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Failures allowed before the first wait.
pub const FREE_FAILURES: u32 = 5;
const FIRST_WAIT: Duration = Duration::from_secs(1);
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten this long after the last one.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
pub const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
    until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Lockout {
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

impl Lockout {
    /// How long `ip` must still wait, if it is locked out.
    pub fn check(&self, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.entries.lock();
        entries
            .get(&ip)?
            .until
            .filter(|u| *u > now)
            .map(|u| u - now)
    }

    /// Counts a failed authentication from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_TRACKED && !entries.contains_key(&ip) {
            entries.retain(|_, e| now.duration_since(e.last) < FORGET_AFTER);
            if entries.len() >= MAX_TRACKED {
                return;
            }
        }
        let entry = entries.entry(ip).or_insert(Entry {
            failures: 0,
            last: now,
            until: None,
        });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.failures = 0;
        }
        entry.failures += 1;
        entry.last = now;
        if entry.failures > FREE_FAILURES {
            let doublings = (entry.failures - FREE_FAILURES - 1).min(20);
            let wait = FIRST_WAIT.saturating_mul(1 << doublings).min(MAX_WAIT);
            entry.until = Some(now + wait);
            tracing::warn!(%ip, failures = entry.failures, wait_s = wait.as_secs(), "authentication lockout");
        }
    }

    /// A successful authentication clears the address.
    pub fn succeeded(&self, ip: IpAddr) {
        let mut entries = self.entries.lock();
        if !entries.is_empty() {
            entries.remove(&ip);
        }
    }

    /// Addresses locked out right now, for `/health`.
    pub fn locked(&self) -> usize {
        let now = Instant::now();
        self.entries
            .lock()
            .values()
            .filter(|e| e.until.is_some_and(|u| u > now))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_grow_after_the_free_failures_and_success_clears() {
        let l = Lockout::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..FREE_FAILURES {
            l.failed(ip);
        }
        assert_eq!(l.check(ip), None, "the first failures are free");
        l.failed(ip);
        assert_eq!(l.check(ip), Some(Duration::from_secs(1)));
        l.failed(ip);
        assert_eq!(l.check(ip), Some(Duration::from_secs(2)));
        assert_eq!(l.locked(), 1);
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(l.check(ip), None, "the wait is over");
        l.failed(ip);
        assert_eq!(l.check(ip), Some(Duration::from_secs(4)));
        l.succeeded(ip);
        assert_eq!(l.check(ip), None);
        assert_eq!(l.locked(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_are_capped_and_failures_forgotten() {
        let l = Lockout::default();
        let ip: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..40 {
            l.failed(ip);
        }
        assert_eq!(l.check(ip), Some(MAX_WAIT));
        tokio::time::advance(FORGET_AFTER + Duration::from_secs(1)).await;
        l.failed(ip);
        assert_eq!(l.check(ip), None, "old failures were forgotten");
    }
}
