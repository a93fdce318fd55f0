//! [`Exchange`]: what one proxied request did, logged as a single line when it ends — when the
//! response (or stream) completes, fails, or the client goes away (on drop).

use std::sync::Arc;

use tokio::time::Instant;
use wire::Usage;

use crate::usage::Meter;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    /// The client closed the connection before the response was complete; the upstream
    /// request was cancelled with it.
    ClientDisconnected,
    /// The upstream failed after the response had started.
    UpstreamFailed,
    /// The gateway answered with an error before any upstream response was relayed.
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::ClientDisconnected => "client_disconnected",
            Self::UpstreamFailed => "upstream_failed",
            Self::Rejected => "rejected",
        }
    }
}

/// The record of one request, filled in along the way.
#[derive(Debug)]
pub struct Exchange {
    pub request_id: Arc<str>,
    pub endpoint: &'static str,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    pub stream: bool,
    pub status: u16,
    pub started: Instant,
    pub first_byte: Option<Instant>,
    pub usage: Option<Usage>,
    pub error: Option<String>,
    /// `direct`, `virtual`, …, or `combo=NAME; strategy=S`.
    pub route: Option<String>,
    pub attempts: u32,
    /// Wall-clock start, for the usage record.
    pub started_wall: std::time::SystemTime,
    /// Limits and usage accounting, settled when the exchange ends.
    pub meter: Option<Meter>,
    finished: bool,
}

impl Exchange {
    pub fn new(request_id: Arc<str>, endpoint: &'static str) -> Self {
        Self {
            request_id,
            endpoint,
            model: None,
            provider: None,
            upstream_model: None,
            stream: false,
            status: 0,
            started: Instant::now(),
            first_byte: None,
            usage: None,
            error: None,
            route: None,
            attempts: 0,
            started_wall: std::time::SystemTime::now(),
            meter: None,
            finished: false,
        }
    }

    /// A record that logs nothing: left behind where the real one was handed on.
    pub fn detached() -> Self {
        let mut e = Self::new(Arc::from("-"), "-");
        e.finished = true;
        e
    }

    pub fn mark_first_byte(&mut self) {
        if self.first_byte.is_none() {
            self.first_byte = Some(Instant::now());
        }
    }

    /// Logs the line once; later calls (and the drop) do nothing.
    pub fn finish(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        if let Some(meter) = self.meter.take() {
            meter.finish(self);
        }
        let latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let ttfb_ms = self
            .first_byte
            .map(|t| (t - self.started).as_secs_f64() * 1000.0);
        let usage = self.usage.unwrap_or_default();
        let input_tokens = usage.input + usage.cache_read + usage.cache_write;
        macro_rules! request_line {
            ($level:ident) => {
                tracing::$level!(
                    target: "switchboard::request",
                    request_id = %self.request_id,
                    endpoint = self.endpoint,
                    model = self.model.as_deref(),
                    provider = self.provider.as_deref(),
                    upstream_model = self.upstream_model.as_deref(),
                    stream = self.stream,
                    status = self.status,
                    latency_ms = format_args!("{latency_ms:.2}"),
                    ttfb_ms = ttfb_ms.map(|t| format!("{t:.2}")),
                    input_tokens,
                    output_tokens = usage.output,
                    outcome = outcome.as_str(),
                    route = self.route.as_deref(),
                    attempts = self.attempts,
                    error = self.error.as_deref(),
                    "request"
                )
            };
        }
        match outcome {
            Outcome::Completed | Outcome::Rejected if self.status < 500 => request_line!(info),
            _ => request_line!(warn),
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        // Dropped before finishing: the response body was dropped mid-way, which hyper does
        // when the client goes away. The upstream response is dropped in the same moment,
        // which closes (cancels) the upstream request.
        self.finish(Outcome::ClientDisconnected);
    }
}
