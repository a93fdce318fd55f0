//! Prometheus metrics: counters and histograms moved by each request as it ends, plus the
//! state of the services around the request path (breakers, usage writer, limiter, lockout)
//! read at scrape time. Served as OpenMetrics text by `GET /metrics`.
//!
//! The hot path costs one read-locked lookup of the request's route (dialect, model,
//! provider) in a small map keyed by `&str`, then atomic increments and two histogram
//! observations. Label strings are allocated once per route, when it is first seen.
//!
//! Cardinality is bounded: the model label is the requested name only when it resolved to a
//! route (an unknown name is `""`), and at most [`MAX_ROUTES`] routes get their own series —
//! later ones share the model label `"other"`.

mod scrape;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use wire::Usage;

pub use scrape::{CONTENT_TYPE, render};

/// Routes (dialect × model × provider) with their own series; later ones are `"other"`.
pub const MAX_ROUTES: usize = 2_000;
/// Providers with their own attempt counter; later ones are `"other"`.
const MAX_PROVIDERS: usize = 1_000;

/// Request duration buckets, in seconds: 5 ms to 10 minutes.
const DURATION_BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
/// Time-to-first-token buckets, in seconds: 5 ms to 2 minutes.
const TTFT_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// The label values of one status class, indexed by `status / 100` (0 for "no status").
const STATUS_CLASSES: [&str; 6] = ["none", "1xx", "2xx", "3xx", "4xx", "5xx"];

/// Token kinds, in the order of [`RouteMetrics::tokens`].
const TOKEN_KINDS: [&str; 5] = ["input", "cache_read", "cache_write", "output", "reasoning"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    dialect: &'static str,
    model: String,
    provider: String,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    dialect: &'static str,
    model: String,
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    model: String,
    provider: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelProviderLabels {
    model: String,
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn ttft_histogram() -> Histogram {
    Histogram::new(TTFT_BUCKETS)
}

/// Why an authentication failed, for `switchboard_auth_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No key, or one that is unknown, revoked or expired.
    InvalidKey,
    /// The address was locked out after repeated failures.
    LockedOut,
}

impl AuthFailure {
    fn label(self) -> &'static str {
        match self {
            Self::InvalidKey => "invalid_key",
            Self::LockedOut => "locked_out",
        }
    }
}

/// What one finished request reports.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    pub dialect: &'static str,
    /// The requested model, `None` when it did not resolve to a route.
    pub model: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub status: u16,
    pub duration: Duration,
    /// Time to the first byte of a streamed response.
    pub ttft: Option<Duration>,
    pub usage: Option<Usage>,
    pub cost_micros: Option<i64>,
    /// Moves from one target to another after a failure.
    pub fallbacks: u32,
    pub replayed: bool,
}

/// The series of one route, cloned out of the families once (a clone shares the atomic).
#[derive(Debug)]
struct RouteMetrics {
    requests: [Counter; 6],
    duration: Histogram,
    ttft: Histogram,
    tokens: [Counter; 5],
    cost: Counter,
    fallbacks: Counter,
}

/// Dialect → provider → model → series; `&str` lookups without allocating.
type RouteMap = HashMap<&'static str, HashMap<Box<str>, HashMap<Box<str>, Arc<RouteMetrics>>>>;

/// The gateway's metrics. One per [`crate::AppState`]; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily<RouteLabels>,
    ttft: HistogramFamily<RouteLabels>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<ModelProviderLabels, Counter>,
    fallbacks: Family<ModelLabels, Counter>,
    attempts: Family<ProviderLabels, Counter>,
    auth_failures: Family<ReasonLabels, Counter>,
    idempotent_replays: Counter,
    in_flight: Gauge,
    routes: RwLock<(RouteMap, usize)>,
    providers: RwLock<HashMap<Box<str>, Counter>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests that ended, by client dialect, requested model, provider of the last attempt and status class",
            requests.clone(),
        );
        let duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(duration_histogram);
        registry.register_with_unit(
            "request_duration",
            "From arrival to the end of the response (the last byte of a stream)",
            Unit::Seconds,
            duration.clone(),
        );
        let ttft: HistogramFamily<RouteLabels> = Family::new_with_constructor(ttft_histogram);
        registry.register_with_unit(
            "time_to_first_token",
            "From arrival to the first byte of a streamed response",
            Unit::Seconds,
            ttft.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens",
            "Tokens by kind: input (fresh), cache_read, cache_write, output (reasoning included) and reasoning",
            tokens.clone(),
        );
        let cost = Family::<ModelProviderLabels, Counter>::default();
        registry.register(
            "cost_micros",
            "Cost in micro-dollars of the requests whose prices are known",
            cost.clone(),
        );
        let attempts = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "upstream_attempts",
            "Calls to an upstream, retries included",
            attempts.clone(),
        );
        let fallbacks = Family::<ModelLabels, Counter>::default();
        registry.register(
            "fallbacks",
            "Moves to another target of the route after a failure",
            fallbacks.clone(),
        );
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "auth_failures",
            "Requests refused for their key (invalid_key) or their address (locked_out)",
            auth_failures.clone(),
        );
        let idempotent_replays = Counter::default();
        registry.register(
            "idempotent_replays",
            "Requests answered by sharing the response of an earlier request with the same Idempotency-Key",
            idempotent_replays.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "requests_in_flight",
            "Proxied requests that have started and not yet ended",
            in_flight.clone(),
        );
        Self {
            registry,
            requests,
            duration,
            ttft,
            tokens,
            cost,
            fallbacks,
            attempts,
            auth_failures,
            idempotent_replays,
            in_flight,
            routes: RwLock::new((HashMap::new(), 0)),
            providers: RwLock::new(HashMap::new()),
        }
    }

    pub(super) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A proxied request started.
    pub fn started(&self) {
        self.in_flight.inc();
    }

    /// A proxied request ended; balances [`Metrics::started`].
    pub fn finished(&self, f: &Finished<'_>) {
        self.in_flight.dec();
        let route = self.route(f.dialect, f.model.unwrap_or(""), f.provider.unwrap_or(""));
        let class = usize::from(f.status / 100);
        route.requests[if class < STATUS_CLASSES.len() {
            class
        } else {
            0
        }]
        .inc();
        route.duration.observe(f.duration.as_secs_f64());
        if let Some(ttft) = f.ttft {
            route.ttft.observe(ttft.as_secs_f64());
        }
        if let Some(u) = f.usage {
            let kinds = [u.input, u.cache_read, u.cache_write, u.output, u.reasoning];
            for (counter, n) in route.tokens.iter().zip(kinds) {
                if n > 0 {
                    counter.inc_by(n);
                }
            }
        }
        if let Some(cost) = f.cost_micros.and_then(|c| u64::try_from(c).ok())
            && cost > 0
        {
            route.cost.inc_by(cost);
        }
        if f.fallbacks > 0 {
            route.fallbacks.inc_by(u64::from(f.fallbacks));
        }
        if f.replayed {
            self.idempotent_replays.inc();
        }
    }

    /// One call to `provider` is about to be made.
    pub fn attempt(&self, provider: &str) {
        if let Some(c) = self.providers.read().get(provider) {
            c.inc();
            return;
        }
        let mut map = self.providers.write();
        let name = if map.len() >= MAX_PROVIDERS && !map.contains_key(provider) {
            "other"
        } else {
            provider
        };
        let counter = map.entry(name.into()).or_insert_with(|| {
            self.attempts.get_or_create_owned(&ProviderLabels {
                provider: name.to_owned(),
            })
        });
        counter.inc();
    }

    pub fn auth_failed(&self, why: AuthFailure) {
        self.auth_failures
            .get_or_create(&ReasonLabels {
                reason: why.label(),
            })
            .inc();
    }

    /// The series of one route, created on first use.
    fn route(&self, dialect: &'static str, model: &str, provider: &str) -> Arc<RouteMetrics> {
        let lookup = |map: &RouteMap, model: &str| {
            map.get(dialect)
                .and_then(|p| p.get(provider))
                .and_then(|m| m.get(model))
                .cloned()
        };
        if let Some(r) = lookup(&self.routes.read().0, model) {
            return r;
        }
        let mut guard = self.routes.write();
        let (map, count) = &mut *guard;
        let model = match lookup(map, model) {
            Some(r) => return r,
            None if *count >= MAX_ROUTES => "other",
            None => model,
        };
        if let Some(r) = lookup(map, model) {
            return r;
        }
        let route = Arc::new(self.new_route(dialect, model, provider));
        map.entry(dialect)
            .or_default()
            .entry(provider.into())
            .or_default()
            .insert(model.into(), Arc::clone(&route));
        *count += 1;
        route
    }

    fn new_route(&self, dialect: &'static str, model: &str, provider: &str) -> RouteMetrics {
        let route = RouteLabels {
            dialect,
            model: model.to_owned(),
            provider: provider.to_owned(),
        };
        let request = |class: &'static str| {
            self.requests.get_or_create_owned(&RequestLabels {
                dialect,
                model: model.to_owned(),
                provider: provider.to_owned(),
                status_class: class,
            })
        };
        let token = |kind: &'static str| {
            self.tokens.get_or_create_owned(&TokenLabels {
                model: model.to_owned(),
                provider: provider.to_owned(),
                kind,
            })
        };
        RouteMetrics {
            requests: STATUS_CLASSES.map(request),
            duration: self.duration.get_or_create_owned(&route),
            ttft: self.ttft.get_or_create_owned(&route),
            tokens: TOKEN_KINDS.map(token),
            cost: self.cost.get_or_create_owned(&ModelProviderLabels {
                model: model.to_owned(),
                provider: provider.to_owned(),
            }),
            fallbacks: self.fallbacks.get_or_create_owned(&ModelLabels {
                model: model.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(model: &str, status: u16) -> Finished<'_> {
        Finished {
            dialect: "openai",
            model: Some(model),
            provider: Some("p"),
            status,
            duration: Duration::from_millis(20),
            ttft: None,
            usage: Some(Usage {
                input: 3,
                output: 5,
                ..Usage::default()
            }),
            cost_micros: Some(7),
            fallbacks: 0,
            replayed: false,
        }
    }

    fn text(m: &Metrics) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, m.registry()).expect("encodes");
        out
    }

    #[test]
    fn a_request_moves_its_route_series() {
        let m = Metrics::new();
        m.started();
        m.finished(&finished("fast", 200));
        m.started();
        m.finished(&finished("fast", 502));
        let out = text(&m);
        for line in [
            r#"switchboard_requests_total{dialect="openai",model="fast",provider="p",status_class="2xx"} 1"#,
            r#"switchboard_requests_total{dialect="openai",model="fast",provider="p",status_class="5xx"} 1"#,
            r#"switchboard_tokens_total{model="fast",provider="p",kind="input"} 6"#,
            r#"switchboard_tokens_total{model="fast",provider="p",kind="output"} 10"#,
            r#"switchboard_cost_micros_total{model="fast",provider="p"} 14"#,
            r#"switchboard_request_duration_seconds_count{dialect="openai",model="fast",provider="p"} 2"#,
            "switchboard_requests_in_flight 0",
        ] {
            assert!(out.contains(line), "missing {line} in\n{out}");
        }
    }

    #[test]
    fn routes_past_the_cap_share_the_other_model() {
        let m = Metrics::new();
        for i in 0..MAX_ROUTES + 5 {
            m.started();
            m.finished(&finished(&format!("m{i}"), 200));
        }
        let out = text(&m);
        assert!(out.contains(
            r#"switchboard_requests_total{dialect="openai",model="other",provider="p",status_class="2xx"} 5"#
        ));
        assert!(m.routes.read().1 <= MAX_ROUTES + 1);
    }
}
