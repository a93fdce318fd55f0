//! The batching writer: requests hand records to a [`BatchHandle`] without waiting; one task
//! batches them off a bounded channel into a [`BatchSink`], flushing on size or interval and
//! draining everything left on shutdown. Usage records ([`UsageWriter`]) and request logs
//! ([`super::request_log`]) each run one.
//!
//! Every record handed to [`BatchHandle::record`] ends up in exactly one counter: `written`
//! (the sink accepted its batch), `dropped` (the channel was full, or the writer had stopped)
//! or `failed` (the sink refused its batch on every attempt).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{BoxFuture, UsageRecord, UsageSink};

/// At most one "records dropped" warning per this period.
const DROP_WARN_EVERY: Duration = Duration::from_secs(1);

/// Backoff between retries of a batch doubles up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How the writer batches and retries. The defaults hold 10,000 records, flush 500 at a time
/// or every second, and try a failing batch 4 times over about a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    /// Records the channel holds before new ones are dropped (at least 1).
    pub capacity: usize,
    /// Records per write; a full batch is written at once (at least 1).
    pub batch: usize,
    /// A partial batch is written after at most this long (at least 1 ms). A `kill -9`
    /// loses at most this much.
    pub interval: Duration,
    /// Further attempts after a failed write, before the batch counts as failed.
    pub retries: u32,
    /// Wait before the first retry; doubled before each next one (up to 10 s).
    pub backoff: Duration,
    /// One write attempt taking longer than this counts as failed.
    pub write_timeout: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            batch: 500,
            interval: Duration::from_secs(1),
            retries: 3,
            backoff: Duration::from_millis(100),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// A snapshot of the writer's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Records the sink accepted.
    pub written: u64,
    /// Records never queued: the channel was full or the writer had stopped.
    pub dropped: u64,
    /// Records in batches the sink refused on every attempt.
    pub failed: u64,
}

/// Stores batches of one kind of record; the writer task calls it for one batch at a time.
/// The error is a description for the log; the writer retries the batch.
pub trait BatchSink<T>: Send + Sync {
    fn write_batch(&self, batch: Vec<T>) -> BoxFuture<'_, Result<(), String>>;
}

/// What the writer's log lines call its records, its channel and itself.
#[derive(Debug, Clone, Copy)]
pub struct Names {
    /// e.g. "usage records".
    pub records: &'static str,
    /// e.g. "the usage channel is full".
    pub full: &'static str,
    /// e.g. "the usage writer has stopped".
    pub stopped: &'static str,
}

const USAGE_NAMES: Names = Names {
    records: "usage records",
    full: "the usage channel is full",
    stopped: "the usage writer has stopped",
};

/// Counters shared by the handles and the task.
#[derive(Debug)]
struct Shared {
    names: Names,
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    /// Drops not yet reported in a warning.
    unreported: AtomicU64,
    /// Milliseconds after `origin` of the last drop warning, plus one; 0 for never.
    last_warn: AtomicU64,
    origin: Instant,
}

impl Shared {
    #[cfg(test)]
    fn new() -> Self {
        Self::named(USAGE_NAMES)
    }

    fn named(names: Names) -> Self {
        Self {
            names,
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            unreported: AtomicU64::new(0),
            last_warn: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    fn stats(&self) -> WriterStats {
        WriterStats {
            written: self.written.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    fn dropped_one(&self, reason: &'static str) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        self.unreported.fetch_add(1, Ordering::Relaxed);
        self.warn_dropped(reason);
    }

    /// Logs the drops not yet reported, unless a warning went out less than a second ago;
    /// returns how many it reported.
    fn warn_dropped(&self, reason: &'static str) -> Option<u64> {
        if self.unreported.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let now = u64::try_from(self.origin.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        let last = self.last_warn.load(Ordering::Relaxed);
        let every = u64::try_from(DROP_WARN_EVERY.as_millis()).unwrap_or(u64::MAX);
        if last != 0 && now < last.saturating_add(every) {
            return None;
        }
        // One caller wins the period; the others leave their drops for the next warning.
        self.last_warn
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .ok()?;
        let count = self.unreported.swap(0, Ordering::Relaxed);
        if count == 0 {
            return None;
        }
        tracing::warn!(
            dropped = count,
            dropped_total = self.dropped.load(Ordering::Relaxed),
            "{} dropped: {reason}",
            self.names.records
        );
        Some(count)
    }
}

/// Hands usage records to the writer.
pub type UsageHandle = BatchHandle<UsageRecord>;

/// Hands records to a writer. Cheap to clone; [`record`](Self::record) never waits.
#[derive(Debug)]
pub struct BatchHandle<T> {
    tx: mpsc::Sender<T>,
    shared: Arc<Shared>,
}

impl<T> Clone for BatchHandle<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> BatchHandle<T> {
    /// Queues `record` for writing, or — when the channel is full or the writer has stopped —
    /// counts it as dropped and logs (at most one warning a second). Never waits.
    pub fn record(&self, record: T) {
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.shared.dropped_one(self.shared.names.full),
            Err(TrySendError::Closed(_)) => {
                self.shared.dropped_one(self.shared.names.stopped);
            }
        }
    }

    /// Records the sink accepted.
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// Records never queued: the channel was full or the writer had stopped.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Records in batches the sink refused on every attempt.
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> WriterStats {
        self.shared.stats()
    }
}

/// The running writer task. It ends after [`shutdown`](Self::shutdown), or once every
/// [`UsageHandle`] is dropped, and in both cases writes everything queued first. Dropping
/// this value detaches the task; it still ends when the handles are gone.
#[derive(Debug)]
pub struct WriterTask {
    stop: CancellationToken,
    task: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl WriterTask {
    /// Stops accepting records (later ones count as dropped), writes every record already
    /// queued, and returns the final counts.
    pub async fn shutdown(self) -> WriterStats {
        self.stop.cancel();
        self.join().await
    }

    /// Waits for the task to end on its own — after every handle is dropped and the
    /// channel is drained — and returns the final counts.
    pub async fn join(self) -> WriterStats {
        if let Err(e) = self.task.await {
            tracing::error!("the writer of {} failed: {e}", self.shared.names.records);
        }
        self.shared.stats()
    }

    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> WriterStats {
        self.shared.stats()
    }
}

/// Starts the batching writer.
#[derive(Debug)]
pub struct UsageWriter;

impl UsageWriter {
    /// Spawns the writer task on the current Tokio runtime and returns the handle requests
    /// record through (clone it freely) and the task to shut down at exit.
    pub fn start(sink: Arc<dyn UsageSink>, cfg: WriterConfig) -> (UsageHandle, WriterTask) {
        start_writer(Arc::new(UsageBatches(sink)), cfg, USAGE_NAMES)
    }
}

/// A [`UsageSink`] as the writer's sink.
struct UsageBatches(Arc<dyn UsageSink>);

impl BatchSink<UsageRecord> for UsageBatches {
    fn write_batch(&self, batch: Vec<UsageRecord>) -> BoxFuture<'_, Result<(), String>> {
        self.0.write_batch(batch)
    }
}

/// Spawns a batching writer into `sink` on the current Tokio runtime.
pub fn start_writer<T: Clone + Send + 'static>(
    sink: Arc<dyn BatchSink<T>>,
    cfg: WriterConfig,
    names: Names,
) -> (BatchHandle<T>, WriterTask) {
    {
        let cfg = WriterConfig {
            capacity: cfg.capacity.max(1),
            batch: cfg.batch.max(1),
            interval: cfg.interval.max(Duration::from_millis(1)),
            ..cfg
        };
        let (tx, rx) = mpsc::channel(cfg.capacity);
        let shared = Arc::new(Shared::named(names));
        let stop = CancellationToken::new();
        let worker = Worker {
            rx,
            sink,
            cfg,
            shared: Arc::clone(&shared),
        };
        // The handle is kept in `WriterTask`, which `shutdown` awaits.
        let task = tokio::spawn(worker.run(stop.clone()));
        (
            BatchHandle {
                tx,
                shared: Arc::clone(&shared),
            },
            WriterTask { stop, task, shared },
        )
    }
}

struct Worker<T> {
    rx: mpsc::Receiver<T>,
    sink: Arc<dyn BatchSink<T>>,
    cfg: WriterConfig,
    shared: Arc<Shared>,
}

impl<T: Clone + Send + 'static> Worker<T> {
    async fn run(mut self, stop: CancellationToken) {
        let batch = self.cfg.batch;
        let mut buf = Vec::with_capacity(batch);
        let mut tick =
            tokio::time::interval_at(Instant::now() + self.cfg.interval, self.cfg.interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // `buf` never holds a full batch at the top of the loop, so `recv_many` asks for
        // at least one record (asking for none would return 0 at once, read as "closed").
        loop {
            let room = batch - buf.len();
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                received = self.rx.recv_many(&mut buf, room) => {
                    if received == 0 {
                        break; // every handle is gone and the channel is empty
                    }
                    if buf.len() >= batch {
                        self.flush(&mut buf).await;
                    }
                }
                _ = tick.tick() => {
                    if !buf.is_empty() {
                        self.flush(&mut buf).await;
                    }
                    // Drops since the last warning, reported even when no more come.
                    self.shared.warn_dropped("the usage channel was full");
                }
            }
        }
        // Drain: refuse new records, then write everything already queued.
        self.rx.close();
        loop {
            let room = batch - buf.len();
            if self.rx.recv_many(&mut buf, room).await == 0 {
                break;
            }
            if buf.len() >= batch {
                self.flush(&mut buf).await;
            }
        }
        if !buf.is_empty() {
            self.flush(&mut buf).await;
        }
        // A last report of drops still inside the one-second window.
        self.shared.last_warn.store(0, Ordering::Relaxed);
        self.shared.warn_dropped("the usage channel was full");
        let stats = self.shared.stats();
        tracing::info!(
            written = stats.written,
            dropped = stats.dropped,
            failed = stats.failed,
            "the writer of {} stopped",
            self.shared.names.records
        );
    }

    /// Writes `buf` as one batch, retrying with backoff; afterwards `buf` is empty.
    async fn flush(&self, buf: &mut Vec<T>) {
        let mut batch = std::mem::replace(buf, Vec::with_capacity(self.cfg.batch));
        let count = batch.len() as u64;
        let mut backoff = self.cfg.backoff;
        let mut attempt = 0u32;
        loop {
            let last = attempt >= self.cfg.retries;
            // The last attempt gets the batch itself; earlier ones a copy to retry with.
            let payload = if last {
                std::mem::take(&mut batch)
            } else {
                batch.clone()
            };
            let error = match self.write(payload).await {
                Ok(()) => {
                    self.shared.written.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                Err(e) => e,
            };
            attempt += 1;
            if last {
                self.shared.failed.fetch_add(count, Ordering::Relaxed);
                tracing::error!(
                    records = count,
                    attempts = attempt,
                    "{} lost: the sink failed every attempt: {error}",
                    self.shared.names.records
                );
                return;
            }
            tracing::warn!(
                records = count,
                attempt,
                retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                "writing a batch of {} failed, retrying: {error}",
                self.shared.names.records
            );
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
        }
    }

    /// One attempt, bounded by the write timeout; a panicking sink is a failed attempt.
    async fn write(&self, batch: Vec<T>) -> Result<(), String> {
        // The call inside the future too: a sink may panic before returning its future.
        let attempt = AssertUnwindSafe(async { self.sink.write_batch(batch).await }).catch_unwind();
        match tokio::time::timeout(self.cfg.write_timeout, attempt).await {
            Ok(Ok(result)) => result,
            Ok(Err(_panic)) => Err("the sink panicked".into()),
            Err(_elapsed) => Err(format!(
                "timed out after {} ms",
                self.cfg.write_timeout.as_millis()
            )),
        }
    }
}

#[cfg(test)]
mod tests;
