//! The retention job: deletes raw usage records past `[usage] retention` and request logs past
//! `[request_logs] retention`, at start and then every hour, in bounded batches so no single
//! statement holds the database for long. The hourly rollups already hold everything the
//! analytics need (they are written with each usage batch), so they are kept.

use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::unix_ms;

/// What to delete, how often, and how much per statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Raw usage records older than this are deleted; `None` keeps them.
    pub usage: Option<Duration>,
    /// Request logs older than this are deleted; `None` keeps them.
    pub request_logs: Option<Duration>,
    /// Time between sweeps (the first runs at start).
    pub every: Duration,
    /// Rows per `DELETE`.
    pub batch: u32,
}

impl RetentionPolicy {
    /// The policy of a configuration: its retentions, hourly sweeps of 5,000-row batches.
    pub fn from_config(config: &crate::Config) -> Self {
        Self {
            usage: config.usage.retention,
            request_logs: config.request_logs.retention,
            every: Duration::from_secs(3600),
            batch: 5_000,
        }
    }
}

/// What one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub usage_records: u64,
    pub request_logs: u64,
}

/// The running job; [`shutdown`](Self::shutdown) stops it between batches.
#[derive(Debug)]
pub struct RetentionJob {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl RetentionJob {
    /// Starts sweeping `store` now and every `policy.every`; `None` when the policy keeps
    /// everything.
    pub fn start(store: store::Store, policy: RetentionPolicy) -> Option<Self> {
        if policy.usage.is_none() && policy.request_logs.is_none() {
            return None;
        }
        let stop = CancellationToken::new();
        let token = stop.clone();
        // The handle is kept in `RetentionJob`, which `shutdown` awaits.
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(policy.every.max(Duration::from_secs(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    () = token.cancelled() => break,
                    _ = tick.tick() => {}
                }
                sweep(&store, &policy, SystemTime::now(), &token).await;
            }
        });
        Some(Self { stop, task })
    }

    /// Stops the job (a batch in progress finishes) and waits for it.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::error!("the retention job failed: {e}");
        }
    }
}

/// One sweep as of `now`: every expired row, batch by batch, until none is left or `stop`.
/// Failures are logged and left for the next sweep.
pub async fn sweep(
    store: &store::Store,
    policy: &RetentionPolicy,
    now: SystemTime,
    stop: &CancellationToken,
) -> Swept {
    let cutoff = |keep: Duration| {
        i64::try_from(unix_ms(
            now.checked_sub(keep).unwrap_or(SystemTime::UNIX_EPOCH),
        ))
        .unwrap_or(i64::MAX)
    };
    let batch = policy.batch.max(1);
    let mut swept = Swept::default();
    if let Some(keep) = policy.usage {
        let before = cutoff(keep);
        swept.usage_records = drain("usage records", stop, batch, || {
            store.delete_usage_batch_before(before, batch)
        })
        .await;
    }
    if let Some(keep) = policy.request_logs {
        let before = cutoff(keep);
        swept.request_logs = drain("request logs", stop, batch, || {
            store.delete_request_logs_batch_before(before, batch)
        })
        .await;
    }
    if swept != Swept::default() {
        tracing::info!(
            usage_records = swept.usage_records,
            request_logs = swept.request_logs,
            "retention: deleted expired records"
        );
    }
    swept
}

/// Runs `delete` until it deletes less than a batch; returns the total.
async fn drain<F, Fut>(what: &str, stop: &CancellationToken, batch: u32, delete: F) -> u64
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = store::Result<u64>>,
{
    let mut total = 0;
    while !stop.is_cancelled() {
        match delete().await {
            Ok(n) => {
                total += n;
                if n < u64::from(batch) {
                    break;
                }
                // Let other work at the database between batches.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "retention: deleting expired {what} failed; retrying at the next sweep");
                break;
            }
        }
    }
    total
}
