//! Telemetry: the one structured log line each request ends with.

mod exchange;

pub use exchange::{Exchange, Outcome};
