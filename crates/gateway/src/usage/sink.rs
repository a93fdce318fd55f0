//! [`UsageSink`]: where batches of usage records are stored — the capability the SQL store
//! implements — plus two sinks that need no database: [`MemorySink`] and [`LogSink`].

use std::sync::Arc;

pub use futures_util::future::BoxFuture;
use parking_lot::Mutex;

use super::UsageRecord;

/// The `tracing` target [`LogSink`] writes to, one JSON line per record.
pub const USAGE_LOG_TARGET: &str = "switchboard::usage";

/// Stores batches of usage records. Held as `Arc<dyn UsageSink>` by the writer task, which
/// calls it for one batch at a time (never concurrently).
///
/// A batch that fails is retried whole, so a sink should write a batch atomically (one
/// transaction) or tolerate seeing a record twice (e.g. `ON CONFLICT (request_id) DO
/// NOTHING`): a write that timed out may still have committed.
pub trait UsageSink: Send + Sync {
    /// Stores `batch`. The error is a description for the log; the writer retries.
    fn write_batch(&self, batch: Vec<UsageRecord>) -> BoxFuture<'_, Result<(), String>>;
}

/// Keeps every record in memory: for tests, and for running without a database.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    records: Arc<Mutex<Vec<UsageRecord>>>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every record written so far, in write order.
    pub fn records(&self) -> Vec<UsageRecord> {
        self.records.lock().clone()
    }

    /// Removes and returns every record written so far.
    pub fn take(&self) -> Vec<UsageRecord> {
        std::mem::take(&mut *self.records.lock())
    }

    pub fn len(&self) -> usize {
        self.records.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.lock().is_empty()
    }
}

impl UsageSink for MemorySink {
    fn write_batch(&self, batch: Vec<UsageRecord>) -> BoxFuture<'_, Result<(), String>> {
        self.records.lock().extend(batch);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Writes each record as one JSON line through `tracing` (target [`USAGE_LOG_TARGET`], level
/// INFO): where records go before a database is configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSink;

impl UsageSink for LogSink {
    fn write_batch(&self, batch: Vec<UsageRecord>) -> BoxFuture<'_, Result<(), String>> {
        for record in &batch {
            match serde_json::to_string(record) {
                Ok(line) => tracing::info!(target: USAGE_LOG_TARGET, "{line}"),
                // Not an error of the batch: retrying would log the others twice.
                Err(e) => tracing::warn!(
                    target: USAGE_LOG_TARGET,
                    request_id = %record.request_id,
                    "usage record not serializable: {e}"
                ),
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};
    use wire::{Dialect, Usage};

    use super::*;

    fn record(id: &str) -> UsageRecord {
        UsageRecord {
            at: 1,
            request_id: id.into(),
            key_id: None,
            user_id: None,
            requested_model: "m".into(),
            provider: None,
            upstream_model: None,
            dialect_in: Dialect::OpenAi,
            dialect_out: None,
            usage: Usage {
                input: 3,
                output: 4,
                ..Usage::default()
            },
            cost_micros: None,
            latency_ms: 5,
            ttft_ms: None,
            status: 200,
            attempts: 1,
            cache_hit: false,
        }
    }

    #[tokio::test]
    async fn memory_sink_keeps_records_in_order() {
        let sink = MemorySink::new();
        assert!(sink.is_empty());
        sink.write_batch(vec![record("a"), record("b")])
            .await
            .expect("ok");
        sink.write_batch(vec![record("c")]).await.expect("ok");
        let ids: Vec<_> = sink.records().into_iter().map(|r| r.request_id).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(sink.take().len(), 3);
        assert!(sink.is_empty());
    }

    /// Captures `(target, message)` of every event.
    #[derive(Default, Clone)]
    struct Capture(Arc<Mutex<Vec<(String, String)>>>);

    struct Message<'a>(&'a mut String);

    impl Visit for Message<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.0, "{value:?}");
            }
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut message = String::new();
            event.record(&mut Message(&mut message));
            self.0
                .lock()
                .push((event.metadata().target().to_owned(), message));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn log_sink_writes_one_json_line_per_record() {
        let capture = Capture::default();
        let batch = vec![record("a"), record("b")];
        tracing::subscriber::with_default(capture.clone(), || {
            let written = futures_util::FutureExt::now_or_never(LogSink.write_batch(batch.clone()));
            assert_eq!(written, Some(Ok(())));
        });
        let events = capture.0.lock().clone();
        assert_eq!(events.len(), 2);
        for ((target, line), record) in events.iter().zip(&batch) {
            assert_eq!(target, USAGE_LOG_TARGET);
            assert!(!line.contains('\n'));
            let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            assert_eq!(value, serde_json::to_value(record).expect("serializes"));
        }
    }
}
