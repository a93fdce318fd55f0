//! The sliding-window counter behind requests- and tokens-per-minute, for the memory
//! backend. `redis/admit.lua` implements the same arithmetic over a Redis hash.
//!
//! Uses are counted in one-second buckets. A use made during second `s` counts until the
//! end of second `s + 60` ([`WINDOW_BUCKETS`] = 61 buckets), so it counts for at least 60 s
//! and at most 61 s: no 60-second interval ever holds more than the limit. Only non-empty
//! buckets are stored (at most 61).

use std::collections::VecDeque;
use std::time::Duration;

/// Buckets (seconds) a use counts for: the current second plus the 60 before it.
pub(super) const WINDOW_BUCKETS: u64 = 61;

const MICROS: u64 = 1_000_000;

/// Uses per one-second bucket, oldest first.
#[derive(Debug, Default)]
pub(super) struct Window {
    buckets: VecDeque<(u64, u64)>,
}

impl Window {
    /// Forgets the buckets that left the window by second `now_sec`.
    pub fn prune(&mut self, now_sec: u64) {
        while let Some(&(sec, _)) = self.buckets.front() {
            if sec + WINDOW_BUCKETS > now_sec {
                break;
            }
            self.buckets.pop_front();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Uses still counted (call [`Window::prune`] first).
    pub fn total(&self) -> u64 {
        self.buckets.iter().map(|&(_, n)| n).sum()
    }

    /// Counts `n` uses in second `sec` (the newest second).
    pub fn add(&mut self, sec: u64, n: u64) {
        if n == 0 {
            return;
        }
        match self.buckets.back_mut() {
            Some((last, count)) if *last == sec => *count += n,
            _ => self.buckets.push_back((sec, n)),
        }
    }

    /// Adds `delta` to the bucket of second `sec`, if it is still counted; a bucket never
    /// goes below zero.
    pub fn adjust(&mut self, sec: u64, delta: i64) {
        if delta > 0 {
            // The bucket may be gone (emptied by an earlier adjustment); re-create it in order.
            let pos = self.buckets.partition_point(|&(s, _)| s < sec);
            match self.buckets.get_mut(pos) {
                Some((s, n)) if *s == sec => *n += delta.unsigned_abs(),
                _ => self.buckets.insert(pos, (sec, delta.unsigned_abs())),
            }
        } else if let Some(pos) = self.buckets.iter().position(|&(s, _)| s == sec) {
            let n = &mut self.buckets[pos].1;
            *n = n.saturating_sub(delta.unsigned_abs());
            if *n == 0 {
                self.buckets.remove(pos);
            }
        }
    }

    /// How long until `need` more uses fit under `limit`, at `now_us` (microseconds on the
    /// same clock as the bucket seconds). The full window when `need` exceeds `limit`.
    pub fn wait_for(&self, limit: u64, need: u64, now_us: u64) -> Duration {
        let total = self.total();
        let mut freed = 0;
        for &(sec, n) in &self.buckets {
            freed += n;
            if need <= limit && total - freed + need <= limit {
                return expiry_in(sec, now_us);
            }
        }
        Duration::from_secs(WINDOW_BUCKETS)
    }

    /// Time until the oldest counted use leaves the window (zero when nothing is counted).
    pub fn next_release(&self, now_us: u64) -> Duration {
        self.buckets
            .front()
            .map_or(Duration::ZERO, |&(sec, _)| expiry_in(sec, now_us))
    }
}

/// Time from `now_us` until the bucket of second `sec` leaves the window.
fn expiry_in(sec: u64, now_us: u64) -> Duration {
    Duration::from_micros(((sec + WINDOW_BUCKETS) * MICROS).saturating_sub(now_us))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_counts_for_between_60_and_61_seconds() {
        let mut w = Window::default();
        w.add(10, 1);
        for now in [10, 40, 70] {
            w.prune(now);
            assert_eq!(w.total(), 1, "still counted at second {now}");
        }
        w.prune(71);
        assert_eq!(w.total(), 0);
    }

    #[test]
    fn wait_is_until_enough_old_uses_leave() {
        let mut w = Window::default();
        w.add(0, 3);
        w.add(5, 2);
        let now_us = 30 * MICROS;
        // limit 5, all used: one more needs the bucket of second 0 to leave (at 61 s).
        assert_eq!(w.wait_for(5, 1, now_us), Duration::from_secs(31));
        // 4 more needs both buckets gone (at 66 s).
        assert_eq!(w.wait_for(5, 4, now_us), Duration::from_secs(36));
        // More than the limit never fits: the whole window.
        assert_eq!(w.wait_for(5, 6, now_us), Duration::from_secs(61));
        assert_eq!(w.next_release(now_us), Duration::from_secs(31));
    }

    #[test]
    fn adjustments_reconcile_a_past_bucket() {
        let mut w = Window::default();
        w.add(1, 100);
        w.add(2, 50);
        w.adjust(1, -30);
        assert_eq!(w.total(), 120);
        w.adjust(2, -80);
        assert_eq!(w.total(), 70, "a bucket stops at zero and is dropped");
        w.adjust(2, 5);
        w.adjust(0, 1);
        assert_eq!(w.total(), 76);
        w.prune(61);
        assert_eq!(
            w.total(),
            75,
            "the re-created bucket of second 0 kept its order"
        );
    }
}
