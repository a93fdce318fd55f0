//! [`Exchange`]: what one proxied request did, logged as a single line when it ends — when the
//! response (or stream) completes, fails, or the client goes away (on drop) — and reported to
//! the metrics and the request log when they are on ([`Exchange::observe`]).

use std::sync::Arc;

use tokio::time::Instant;
use wire::Usage;

use super::Telemetry;
use super::metrics::{Finished, Metrics};
use crate::usage::Meter;
use crate::usage::request_log::Capture;

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
    /// The dialect the client speaks.
    pub dialect: wire::Dialect,
    /// The wire format of the provider last tried.
    pub wire: wire::WireFormat,
    /// Moves to another target after a failure (see [`Exchange::note_attempt`]).
    pub fallbacks: u32,
    /// Answered with the response of an earlier request with the same Idempotency-Key.
    pub replayed: bool,
    metrics: Option<Arc<Metrics>>,
    capture: Option<Capture>,
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
            dialect: wire::Dialect::OpenAi,
            wire: wire::WireFormat::OpenAi,
            fallbacks: 0,
            replayed: false,
            metrics: None,
            capture: None,
            finished: false,
        }
    }

    /// Reports this request to the metrics (counted in flight from now) and, when request
    /// logging is on, starts its log.
    pub fn observe(&mut self, telemetry: &Telemetry) {
        if self.finished {
            return;
        }
        if let Some(m) = telemetry.metrics() {
            m.started();
            self.metrics = Some(Arc::clone(m));
        }
        if let Some(logs) = telemetry.request_logs() {
            let at = i64::try_from(crate::usage::unix_ms(self.started_wall)).unwrap_or(i64::MAX);
            self.capture = Some(logs.capture(Arc::clone(&self.request_id), at));
        }
    }

    /// Keeps the head of the request body for the request log, when it is on.
    pub fn capture_request(&self, body: &[u8]) {
        if let Some(c) = &self.capture {
            c.request(body);
        }
    }

    /// The request log's capture, for the response body to be copied into on its way out
    /// (see [`crate::usage::request_log::tap`]).
    pub fn response_capture(&self) -> Option<Capture> {
        self.capture.clone()
    }

    /// Called before each upstream attempt, while `provider`/`upstream_model` still name the
    /// previous one: counts the attempt, and a fallback when the target changed.
    pub fn note_attempt(&mut self, provider: &str, model: &str) {
        if let (Some(p), Some(m)) = (&self.provider, &self.upstream_model)
            && (p != provider || m != model)
        {
            self.fallbacks += 1;
        }
        if let Some(metrics) = &self.metrics {
            metrics.attempt(provider);
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
        // The cost of the usage the upstream reported, for the metrics.
        let cost = self
            .meter
            .as_ref()
            .and_then(|m| m.prices.as_ref())
            .zip(self.usage.as_ref())
            .and_then(|(prices, usage)| crate::usage::cost_micros(usage, prices));
        if let Some(meter) = self.meter.take() {
            meter.finish(self);
        }
        self.report(cost);
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

impl Exchange {
    /// Moves the metrics and hands the request log on, once, as the request ends.
    fn report(&mut self, cost_micros: Option<i64>) {
        if let Some(capture) = self.capture.take() {
            capture.finish(self.status, self.error.as_deref());
        }
        let Some(metrics) = self.metrics.take() else {
            return;
        };
        let ttft = self
            .first_byte
            .filter(|_| self.stream)
            .map(|t| t - self.started);
        metrics.finished(&Finished {
            dialect: self.dialect.as_str(),
            // Only a name that resolved to a route: clients cannot mint label values.
            model: self.route.as_ref().and(self.model.as_deref()),
            provider: self.provider.as_deref(),
            status: self.status,
            duration: self.started.elapsed(),
            ttft,
            usage: self.usage,
            cost_micros,
            fallbacks: self.fallbacks,
            replayed: self.replayed,
        });
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
