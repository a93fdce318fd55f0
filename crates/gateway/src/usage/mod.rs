//! Usage and cost: one [`UsageRecord`] per request, priced exactly in integer micro-dollars
//! ([`cost_micros`]), handed to a batching writer ([`UsageWriter`]) that never delays the
//! request and persists records through a [`UsageSink`].
//!
//! The path of a record, in order:
//!
//! 1. the request ends and builds a [`UsageRecord`], its cost from [`cost_micros`];
//! 2. [`UsageHandle::record`] puts it on a bounded channel without waiting — when the channel
//!    is full the record is counted as dropped and logged, never waited for;
//! 3. the writer task batches records (`recv_many`), flushing on batch size or interval;
//! 4. a [`UsageSink`] writes each batch (the SQL store, [`LogSink`] or [`MemorySink`]); a
//!    failed batch is retried with backoff, then counted as failed;
//! 5. on shutdown (or when every handle is gone) the writer drains the channel and returns.

mod meter;
mod pricing;
mod record;
pub mod request_log;
pub mod retention;
mod sink;
mod store_sink;
mod writer;

pub use meter::Meter;
pub use pricing::cost_micros;
pub use record::{UsageRecord, unix_ms};
pub use sink::{BoxFuture, LogSink, MemorySink, USAGE_LOG_TARGET, UsageSink};
pub use store_sink::StoreSink;
pub use writer::{
    BatchHandle, BatchSink, Names, UsageHandle, UsageWriter, WriterConfig, WriterStats, WriterTask,
    start_writer,
};
