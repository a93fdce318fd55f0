//! The batching usage writer from outside: bursts, shutdown drain, a slow sink never slowing
//! `record`, failing sinks, and the interval flush with paused time.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::FutureExt as _;
use gateway::usage::{
    BoxFuture, MemorySink, UsageRecord, UsageSink, UsageWriter, WriterConfig, WriterStats,
};
use wire::{Dialect, Usage, WireFormat};

fn record(id: u64) -> UsageRecord {
    UsageRecord {
        at: 1_767_225_600_000 + id,
        request_id: format!("req-{id}"),
        key_id: Some("key".into()),
        user_id: Some("user".into()),
        requested_model: "groq/llama".into(),
        provider: Some("groq".into()),
        upstream_model: Some("llama".into()),
        dialect_in: Dialect::OpenAi,
        dialect_out: Some(WireFormat::OpenAi),
        usage: Usage {
            input: id,
            output: 1,
            ..Usage::default()
        },
        cost_micros: Some(1),
        latency_ms: 10,
        ttft_ms: Some(5),
        status: 200,
        attempts: 1,
        cache_hit: false,
    }
}

fn ids(sink: &MemorySink) -> Vec<String> {
    sink.records().into_iter().map(|r| r.request_id).collect()
}

/// Lets the writer task run without letting (paused) time pass.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// Sleeps before storing each batch.
struct SlowSink {
    delay: Duration,
    inner: MemorySink,
}

impl UsageSink for SlowSink {
    fn write_batch(&self, batch: Vec<UsageRecord>) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.inner.write_batch(batch).await
        })
    }
}

/// Fails the first `failures` calls, then stores; counts every call.
struct FlakySink {
    failures: u32,
    calls: AtomicU32,
    inner: MemorySink,
}

impl FlakySink {
    fn new(failures: u32) -> Self {
        Self {
            failures,
            calls: AtomicU32::new(0),
            inner: MemorySink::new(),
        }
    }
}

impl UsageSink for FlakySink {
    fn write_batch(&self, batch: Vec<UsageRecord>) -> BoxFuture<'_, Result<(), String>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call < self.failures {
            return Box::pin(std::future::ready(Err("database is down".to_owned())));
        }
        self.inner.write_batch(batch)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_ten_thousand_from_many_tasks_all_lands() {
    let sink = MemorySink::new();
    let (handle, task) = UsageWriter::start(Arc::new(sink.clone()), WriterConfig::default());
    let mut senders = Vec::new();
    for t in 0..100u64 {
        let handle = handle.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..100u64 {
                handle.record(record(t * 100 + i));
                if i % 10 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for s in senders {
        s.await.expect("sender");
    }
    let stats = task.shutdown().await;
    assert_eq!(
        stats,
        WriterStats {
            written: 10_000,
            dropped: 0,
            failed: 0
        }
    );
    let landed: HashSet<_> = ids(&sink).into_iter().collect();
    let expected: HashSet<_> = (0..10_000).map(|i| format!("req-{i}")).collect();
    assert_eq!(landed, expected);
    assert_eq!(sink.len(), 10_000, "no record written twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_into_a_small_channel_accounts_for_every_record() {
    let sink = Arc::new(SlowSink {
        delay: Duration::from_millis(2),
        inner: MemorySink::new(),
    });
    let cfg = WriterConfig {
        capacity: 64,
        batch: 16,
        ..WriterConfig::default()
    };
    let (handle, task) = UsageWriter::start(sink.clone(), cfg);
    let mut senders = Vec::new();
    for t in 0..50u64 {
        let handle = handle.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..200u64 {
                handle.record(record(t * 200 + i));
            }
        }));
    }
    for s in senders {
        s.await.expect("sender");
    }
    let stats = task.shutdown().await;
    assert!(stats.dropped > 0, "a 64-slot channel overflows: {stats:?}");
    assert_eq!(stats.failed, 0);
    assert_eq!(stats.written + stats.dropped, 10_000, "{stats:?}");
    let landed = ids(&sink.inner);
    assert_eq!(landed.len() as u64, stats.written);
    assert_eq!(landed.iter().collect::<HashSet<_>>().len(), landed.len());
    assert_eq!(handle.stats(), stats);
}

#[tokio::test]
async fn shutdown_drains_records_sent_just_before() {
    let sink = MemorySink::new();
    let (handle, task) = UsageWriter::start(Arc::new(sink.clone()), WriterConfig::default());
    for i in 0..5_000 {
        handle.record(record(i));
    }
    // No yield: the writer has not run yet, everything is still in the channel.
    assert!(sink.is_empty());
    let stats = task.shutdown().await;
    assert_eq!(stats.written, 5_000);
    assert_eq!(
        ids(&sink),
        (0..5_000).map(|i| format!("req-{i}")).collect::<Vec<_>>()
    );

    // After shutdown, records are counted as dropped, not lost silently.
    handle.record(record(5_000));
    assert_eq!(handle.dropped(), 1);
    assert_eq!(sink.len(), 5_000);
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_through_a_slow_sink() {
    let sink = Arc::new(SlowSink {
        delay: Duration::from_secs(2),
        inner: MemorySink::new(),
    });
    let cfg = WriterConfig {
        batch: 10,
        ..WriterConfig::default()
    };
    let (handle, task) = UsageWriter::start(sink.clone(), cfg);
    for i in 0..95 {
        handle.record(record(i));
    }
    let stats = task.shutdown().await;
    assert_eq!(stats.written, 95);
    assert_eq!(sink.inner.len(), 95);
}

#[tokio::test]
async fn dropping_every_handle_ends_the_writer_after_draining() {
    let sink = MemorySink::new();
    let (handle, task) = UsageWriter::start(Arc::new(sink.clone()), WriterConfig::default());
    let other = handle.clone();
    handle.record(record(1));
    other.record(record(2));
    drop(handle);
    drop(other);
    let stats = tokio::time::timeout(Duration::from_secs(5), task.join())
        .await
        .expect("the writer ends once every handle is gone");
    assert_eq!(stats.written, 2);
    assert_eq!(ids(&sink), ["req-1", "req-2"]);
}

#[tokio::test(start_paused = true)]
async fn a_slow_sink_never_makes_record_wait() {
    let sink = Arc::new(SlowSink {
        // Slow, but inside the 30 s write timeout: every batch lands in the end.
        delay: Duration::from_secs(20),
        inner: MemorySink::new(),
    });
    let cfg = WriterConfig {
        capacity: 1_000,
        batch: 100,
        ..WriterConfig::default()
    };
    let (handle, task) = UsageWriter::start(sink.clone(), cfg);
    // Let the writer take a first batch into the sink, where it sleeps.
    for i in 0..100 {
        handle.record(record(i));
    }
    settle().await;

    let began = tokio::time::Instant::now();
    let wall = std::time::Instant::now();
    let calls = async {
        for i in 100..10_100 {
            handle.record(record(i));
        }
    };
    // Completes on its first poll: not one of the 10,000 calls awaited anything.
    assert_eq!(calls.now_or_never(), Some(()));
    assert_eq!(
        tokio::time::Instant::now(),
        began,
        "no (paused) time passed"
    );
    assert!(
        wall.elapsed() < Duration::from_secs(2),
        "10,000 calls took {:?}",
        wall.elapsed()
    );
    // The channel holds 1,000; the rest were dropped, not waited for.
    assert_eq!(handle.dropped(), 9_000);

    // The same under a tokio timeout of 5 ms with the sink still asleep.
    tokio::time::timeout(Duration::from_millis(5), async {
        for i in 10_100..20_100 {
            handle.record(record(i));
        }
    })
    .await
    .expect("record never waits");
    assert_eq!(handle.dropped(), 19_000);

    let stats = task.shutdown().await;
    assert_eq!(stats.written, 1_100, "the first batch and the queued 1,000");
    assert_eq!(stats.written + stats.dropped, 20_100);
}

#[tokio::test(start_paused = true)]
async fn a_failing_sink_is_retried_then_its_records_count_as_failed() {
    let sink = Arc::new(FlakySink::new(u32::MAX));
    let cfg = WriterConfig {
        retries: 2,
        backoff: Duration::from_millis(100),
        ..WriterConfig::default()
    };
    let (handle, task) = UsageWriter::start(sink.clone(), cfg);
    for i in 0..3 {
        handle.record(record(i));
    }
    let stats = task.shutdown().await;
    assert_eq!(
        sink.calls.load(Ordering::SeqCst),
        3,
        "one try and two retries"
    );
    assert_eq!(
        stats,
        WriterStats {
            written: 0,
            dropped: 0,
            failed: 3
        }
    );
    assert!(sink.inner.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_sink_that_recovers_loses_nothing() {
    let sink = Arc::new(FlakySink::new(2));
    let (handle, task) = UsageWriter::start(sink.clone(), WriterConfig::default());
    for i in 0..7 {
        handle.record(record(i));
    }
    let stats = task.shutdown().await;
    assert_eq!(sink.calls.load(Ordering::SeqCst), 3);
    assert_eq!((stats.written, stats.failed), (7, 0));
    assert_eq!(
        ids(&sink.inner).len(),
        7,
        "written once, not once per attempt"
    );
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_is_flushed_after_the_interval() {
    let sink = MemorySink::new();
    let cfg = WriterConfig {
        batch: 500,
        interval: Duration::from_secs(1),
        ..WriterConfig::default()
    };
    let (handle, task) = UsageWriter::start(Arc::new(sink.clone()), cfg);
    handle.record(record(1));
    settle().await;
    assert!(sink.is_empty(), "one record is not a batch");

    tokio::time::sleep(Duration::from_millis(999)).await;
    settle().await;
    assert!(sink.is_empty(), "not before the interval");

    tokio::time::sleep(Duration::from_millis(1)).await;
    settle().await;
    assert_eq!(ids(&sink), ["req-1"]);
    assert_eq!(handle.written(), 1);

    // And again on the next tick, for a record that arrives in between.
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.record(record(2));
    tokio::time::sleep(Duration::from_millis(700)).await;
    settle().await;
    assert_eq!(ids(&sink), ["req-1", "req-2"]);
    task.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_is_written_without_waiting_for_the_interval() {
    let sink = MemorySink::new();
    let cfg = WriterConfig {
        batch: 50,
        interval: Duration::from_secs(3600),
        ..WriterConfig::default()
    };
    let (handle, task) = UsageWriter::start(Arc::new(sink.clone()), cfg);
    for i in 0..120 {
        handle.record(record(i));
    }
    settle().await;
    assert_eq!(
        sink.len(),
        100,
        "two full batches at once, the partial one waits"
    );
    let stats = task.shutdown().await;
    assert_eq!(stats.written, 120);
}
