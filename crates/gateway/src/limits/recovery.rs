//! Living with a Redis that fails: settling Redis admissions without waiting on a server
//! known to be down, probing until it answers, and then replaying what waited.
//!
//! A settlement that was never sent (Redis was already known to be down) is kept, up to
//! [`MAX_DEFERRED`], and replayed in full on recovery. One that failed in flight may or may
//! not have been applied: replaying its budget and token adjustments could count them twice,
//! so only its concurrency lease release (idempotent) is replayed, and the rest is counted
//! in `lost_settlements`. An admission call that timed out may likewise have been counted
//! in Redis while the memory backend served it: its lease expires after the lease TTL.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::time::timeout;

use super::Shared;
use super::admission::Held;
use super::outcome::format_reset;

/// The most settlements kept for replay; beyond it they are counted as lost (their leases
/// still expire by TTL).
pub(super) const MAX_DEFERRED: usize = 10_000;

/// Settlements waiting for Redis.
#[derive(Debug, Default)]
pub(super) struct Deferred {
    queue: Mutex<Vec<Replay>>,
}

#[derive(Debug)]
struct Replay {
    held: Held,
    actual_tokens: u64,
    actual_cost_micros: i64,
}

impl Shared {
    /// Settles an admission Redis counted; never waits on a Redis known to be down.
    pub(super) async fn settle_in_redis(
        self: &Arc<Self>,
        held: Held,
        actual_tokens: u64,
        actual_cost_micros: i64,
    ) {
        let Some(redis) = &self.redis else { return };
        if !self.health.is_healthy() {
            self.defer(held, actual_tokens, actual_cost_micros);
            return;
        }
        let op_timeout = redis.options.op_timeout;
        let call = redis.settle(&held, actual_tokens, actual_cost_micros);
        let error = match timeout(op_timeout, call).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => timed_out(op_timeout),
        };
        self.redis_failed(&error);
        self.health.lost_settlements.fetch_add(1, Ordering::Relaxed);
        if let Some(release) = lease_release_only(held) {
            self.defer(release, 0, 0);
        }
    }

    fn defer(&self, held: Held, actual_tokens: u64, actual_cost_micros: i64) {
        let mut queue = self.deferred.queue.lock();
        if queue.len() >= MAX_DEFERRED {
            self.health.lost_settlements.fetch_add(1, Ordering::Relaxed);
            return;
        }
        queue.push(Replay {
            held,
            actual_tokens,
            actual_cost_micros,
        });
    }

    /// Records a Redis failure; on the transition to degraded, starts the recovery probe.
    pub(super) fn redis_failed(self: &Arc<Self>, error: &str) {
        if !self.health.fail(error) {
            return;
        }
        let (Some(redis), Ok(handle)) = (&self.redis, Handle::try_current()) else {
            return;
        };
        let every = redis.options.probe_every;
        let weak = Arc::downgrade(self);
        let stop = self.stop.clone();
        self.tasks.spawn_on(
            async move {
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(every) => {}
                    }
                    let Some(shared) = weak.upgrade() else { return };
                    match shared.try_recover().await {
                        Ok(()) => return shared.health.recover(),
                        Err(error) => {
                            shared.health.fail(&error);
                        }
                    }
                }
            },
            &handle,
        );
    }

    /// Probes Redis, then replays the deferred settlements; the first failure stops it.
    async fn try_recover(&self) -> Result<(), String> {
        let Some(redis) = &self.redis else {
            return Ok(());
        };
        let op_timeout = redis.options.op_timeout;
        let answer = |r: Result<redis::RedisResult<()>, _>| match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(timed_out(op_timeout)),
        };
        answer(timeout(op_timeout, redis.probe()).await)?;
        loop {
            let Some(next) = self.deferred.queue.lock().pop() else {
                return Ok(());
            };
            let call = redis.settle(&next.held, next.actual_tokens, next.actual_cost_micros);
            if let Err(error) = answer(timeout(op_timeout, call).await) {
                // Not known to be unapplied any more: keep only the idempotent lease release.
                self.health.lost_settlements.fetch_add(1, Ordering::Relaxed);
                if let Some(release) = lease_release_only(next.held) {
                    self.defer(release, 0, 0);
                }
                return Err(error);
            }
        }
    }
}

/// What can safely be replayed of a settlement that may already have been applied: the
/// release of its concurrency leases (`None` when it held none).
fn lease_release_only(mut held: Held) -> Option<Held> {
    for part in &mut held.parts {
        part.tokens = false;
        part.budget = None;
    }
    held.estimated_tokens = 0;
    held.reserved_micros = 0;
    held.parts.iter().any(|p| p.slot).then_some(held)
}

pub(super) fn timed_out(after: Duration) -> String {
    format!("no answer within {}", format_reset(after))
}
