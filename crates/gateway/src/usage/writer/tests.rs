//! Unit tests of the writer's retry timing, timeouts, panics and drop warnings, with paused
//! time.

use std::sync::atomic::AtomicU32;

use wire::{Dialect, Usage};

use super::*;
use crate::usage::{BoxFuture, MemorySink};

fn record(id: u64) -> UsageRecord {
    UsageRecord {
        at: id,
        request_id: format!("req-{id}"),
        key_id: None,
        user_id: None,
        requested_model: "m".into(),
        provider: None,
        upstream_model: None,
        dialect_in: Dialect::OpenAi,
        dialect_out: None,
        usage: Usage::default(),
        cost_micros: None,
        latency_ms: 0,
        ttft_ms: None,
        status: 200,
        attempts: 1,
        cache_hit: false,
    }
}

/// How the first `bad` calls misbehave; later calls store the batch.
#[derive(Clone, Copy)]
enum Fault {
    Fail,
    Hang,
    Panic,
}

struct BadSink {
    fault: Fault,
    bad: u32,
    calls: AtomicU32,
    inner: MemorySink,
}

impl BadSink {
    fn new(fault: Fault, bad: u32) -> Arc<Self> {
        Arc::new(Self {
            fault,
            bad,
            calls: AtomicU32::new(0),
            inner: MemorySink::new(),
        })
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl UsageSink for BadSink {
    fn write_batch(&self, batch: Vec<UsageRecord>) -> BoxFuture<'_, Result<(), String>> {
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.bad {
            return self.inner.write_batch(batch);
        }
        match self.fault {
            Fault::Fail => Box::pin(std::future::ready(Err("refused".to_owned()))),
            Fault::Hang => Box::pin(std::future::pending()),
            Fault::Panic => panic!("sink bug"),
        }
    }
}

fn cfg(retries: u32, backoff_ms: u64) -> WriterConfig {
    WriterConfig {
        retries,
        backoff: Duration::from_millis(backoff_ms),
        ..WriterConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially() {
    let sink = BadSink::new(Fault::Fail, u32::MAX);
    let (handle, task) = UsageWriter::start(sink.clone(), cfg(3, 100));
    handle.record(record(1));
    let began = Instant::now();
    let stats = task.shutdown().await;
    assert_eq!(began.elapsed(), Duration::from_millis(100 + 200 + 400));
    assert_eq!(sink.calls(), 4);
    assert_eq!(stats.failed, 1);
}

#[tokio::test(start_paused = true)]
async fn backoff_is_capped() {
    let sink = BadSink::new(Fault::Fail, u32::MAX);
    let (handle, task) = UsageWriter::start(sink.clone(), cfg(3, 8_000));
    handle.record(record(1));
    let began = Instant::now();
    task.shutdown().await;
    assert_eq!(began.elapsed(), Duration::from_secs(8 + 10 + 10));
}

#[tokio::test(start_paused = true)]
async fn no_retries_means_one_attempt() {
    let sink = BadSink::new(Fault::Fail, u32::MAX);
    let (handle, task) = UsageWriter::start(sink.clone(), cfg(0, 100));
    handle.record(record(1));
    handle.record(record(2));
    let stats = task.shutdown().await;
    assert_eq!(sink.calls(), 1);
    assert_eq!((stats.written, stats.failed), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn a_hanging_write_times_out_and_is_retried() {
    let sink = BadSink::new(Fault::Hang, 1);
    let config = WriterConfig {
        write_timeout: Duration::from_secs(5),
        ..cfg(1, 0)
    };
    let (handle, task) = UsageWriter::start(sink.clone(), config);
    handle.record(record(1));
    let began = Instant::now();
    let stats = task.shutdown().await;
    assert_eq!(began.elapsed(), Duration::from_secs(5));
    assert_eq!(sink.calls(), 2);
    assert_eq!((stats.written, stats.failed), (1, 0));
    assert_eq!(sink.inner.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_sink_fails_the_batch_but_not_the_writer() {
    let sink = BadSink::new(Fault::Panic, 1);
    let (handle, task) = UsageWriter::start(sink.clone(), cfg(0, 0));
    handle.record(record(1));
    // The first batch goes to the panicking sink on the interval tick.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(handle.failed(), 1);
    handle.record(record(2));
    let stats = task.shutdown().await;
    assert_eq!(
        stats,
        WriterStats {
            written: 1,
            dropped: 0,
            failed: 1
        }
    );
    assert_eq!(sink.inner.records()[0].request_id, "req-2");
}

#[tokio::test(start_paused = true)]
async fn drop_warnings_are_rate_limited_and_count_every_drop() {
    let shared = Shared::new();
    assert_eq!(shared.warn_dropped("x"), None, "nothing to report");
    shared.dropped.fetch_add(1, Ordering::Relaxed);
    shared.unreported.fetch_add(1, Ordering::Relaxed);
    assert_eq!(
        shared.warn_dropped("x"),
        Some(1),
        "the first drop is reported at once"
    );
    for _ in 0..4 {
        shared.dropped_one("x");
    }
    assert_eq!(shared.warn_dropped("x"), None, "within the second");
    tokio::time::advance(Duration::from_millis(999)).await;
    assert_eq!(shared.warn_dropped("x"), None, "still within the second");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        shared.warn_dropped("x"),
        Some(4),
        "the next warning has the rest"
    );
    assert_eq!(shared.warn_dropped("x"), None);
    assert_eq!(shared.stats().dropped, 5);
}

#[tokio::test(start_paused = true)]
async fn zero_sizes_are_clamped_to_one() {
    let sink = MemorySink::new();
    let config = WriterConfig {
        capacity: 0,
        batch: 0,
        interval: Duration::ZERO,
        ..WriterConfig::default()
    };
    let (handle, task) = UsageWriter::start(Arc::new(sink.clone()), config);
    handle.record(record(1));
    handle.record(record(2));
    assert_eq!(handle.dropped(), 1, "a channel of one");
    tokio::task::yield_now().await;
    handle.record(record(3));
    let stats = task.shutdown().await;
    assert_eq!((stats.written, stats.dropped), (2, 1));
    assert_eq!(sink.len(), 2);
}

#[tokio::test]
async fn the_task_reports_the_same_counters_as_the_handle() {
    let sink = MemorySink::new();
    let (handle, task) = UsageWriter::start(Arc::new(sink), WriterConfig::default());
    handle.record(record(1));
    assert_eq!(task.stats(), handle.stats());
    let stats = task.shutdown().await;
    assert_eq!(stats, handle.stats());
    assert_eq!(
        (handle.written(), handle.dropped(), handle.failed()),
        (1, 0, 0)
    );
}
