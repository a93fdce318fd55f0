//! Telemetry: the one structured log line each request ends with, the Prometheus metrics it
//! moves ([`metrics`]), and — when enabled — its request log (see
//! [`crate::usage::request_log`]).

mod exchange;
pub mod metrics;

use std::sync::Arc;

pub use exchange::{Exchange, Outcome};
pub use metrics::Metrics;

use crate::usage::request_log::RequestLogHandle;

/// Where requests report: the metrics (unless `[metrics] enabled = false`) and the request
/// log (when `[request_logs] enabled = true` and a store is configured). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    metrics: Option<Arc<Metrics>>,
    request_logs: Option<RequestLogHandle>,
}

impl Telemetry {
    pub fn new(metrics: bool, request_logs: Option<RequestLogHandle>) -> Self {
        Self {
            metrics: metrics.then(|| Arc::new(Metrics::new())),
            request_logs,
        }
    }

    pub fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.metrics.as_ref()
    }

    pub fn request_logs(&self) -> Option<&RequestLogHandle> {
        self.request_logs.as_ref()
    }
}
