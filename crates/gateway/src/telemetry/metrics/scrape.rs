//! The scrape: the per-request series plus what the services know right now — circuit
//! breakers per target, the usage and request-log writers' counters, the limiter's Redis
//! health and fallbacks, locked-out addresses and idempotency entries — read when
//! `/metrics` is asked for, so none of it costs anything on the request path.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use crate::limits::RedisStatus;
use crate::routing::health::BreakerState;
use crate::state::AppState;
use crate::usage::WriterStats;

/// The media type of [`render`]'s output: OpenMetrics text, which Prometheus scrapes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakerLabels {
    provider: String,
    model: String,
    state: &'static str,
}

/// The whole exposition, or `None` when metrics are off.
pub fn render(state: &AppState) -> Option<String> {
    let metrics = state.telemetry().metrics()?;
    let mut now = Registry::with_prefix("switchboard");
    breakers(state, &mut now);
    if let Some(usage) = &state.services().usage {
        writer(&mut now, "usage_records", "Usage records", usage.stats());
    }
    if let Some(logs) = state.telemetry().request_logs() {
        writer(&mut now, "request_logs", "Request logs", logs.stats());
    }
    limiter(state, &mut now);
    now.register(
        "auth_locked_out_addresses",
        "Addresses locked out right now after repeated authentication failures",
        ConstGauge::new(i64::try_from(state.lockout().locked()).unwrap_or(i64::MAX)),
    );
    now.register(
        "idempotency_entries",
        "Idempotency-Key entries in flight or kept for replay",
        ConstGauge::new(i64::try_from(state.idempotency().len()).unwrap_or(i64::MAX)),
    );
    let mut out = String::with_capacity(16 << 10);
    // Writing into a String cannot fail.
    let _ = encode_registry(&mut out, metrics.registry())
        .and_then(|()| encode_registry(&mut out, &now))
        .and_then(|()| encode_eof(&mut out));
    Some(out)
}

/// One series per target and state, 1 for the state it is in.
fn breakers(state: &AppState, reg: &mut Registry) {
    let family = Family::<BreakerLabels, Gauge>::default();
    for (provider, model, snap) in state.health().snapshot() {
        for (s, label) in [
            (BreakerState::Closed, "closed"),
            (BreakerState::HalfOpen, "half_open"),
            (BreakerState::Open, "open"),
        ] {
            family
                .get_or_create(&BreakerLabels {
                    provider: provider.clone(),
                    model: model.clone(),
                    state: label,
                })
                .set(i64::from(snap.breaker.state == s));
        }
    }
    reg.register(
        "circuit_breaker_state",
        "Circuit breaker of each target (provider + upstream model): 1 for its current state",
        family,
    );
}

fn writer(reg: &mut Registry, name: &str, what: &str, stats: WriterStats) {
    reg.register(
        format!("{name}_written"),
        format!("{what} the database accepted"),
        ConstCounter::new(stats.written),
    );
    reg.register(
        format!("{name}_dropped"),
        format!("{what} lost because the writer's channel was full (or the writer had stopped)"),
        ConstCounter::new(stats.dropped),
    );
    reg.register(
        format!("{name}_failed"),
        format!("{what} lost because the database refused their batch on every attempt"),
        ConstCounter::new(stats.failed),
    );
}

fn limiter(state: &AppState, reg: &mut Registry) {
    let limiter = &state.services().limiter;
    let status = limiter.redis_status();
    if status != RedisStatus::Disabled {
        reg.register(
            "limits_redis_healthy",
            "1 while rate limits are shared through Redis, 0 while they fall back to per-instance memory",
            ConstGauge::new(i64::from(status == RedisStatus::Healthy)),
        );
    }
    reg.register(
        "limits_redis_fallbacks",
        "Limit checks served by per-instance memory because Redis was unreachable",
        ConstCounter::new(limiter.redis_fallbacks()),
    );
    reg.register(
        "limits_redis_lost_settlements",
        "Settlements of Redis admissions that could not reach Redis",
        ConstCounter::new(limiter.lost_settlements()),
    );
}
