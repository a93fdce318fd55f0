//! `GET /health` (liveness) and `GET /health/ready` (readiness: providers configured and not
//! shutting down).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::limits::RedisStatus;
use crate::state::AppState;

pub async fn live(State(state): State<AppState>) -> Response {
    Json(json!({ "status": "ok", "locked_out_addresses": state.lockout().locked() }))
        .into_response()
}

pub async fn ready(State(state): State<AppState>) -> Response {
    let config = state.config();
    let providers: Vec<&str> = config.providers.iter().map(|p| p.id.as_str()).collect();
    let (status, reason) = if state.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, Some("shutting down"))
    } else if providers.is_empty() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("no providers configured"),
        )
    } else {
        (StatusCode::OK, None)
    };
    let body = json!({
        "status": if status.is_success() { "ready" } else { "not_ready" },
        "reason": reason,
        "providers": providers,
        "models": config.models.keys().collect::<Vec<_>>(),
    });
    (status, Json(body)).into_response()
}

/// `GET /health/detailed`: every provider with its targets' breaker state, in-flight count,
/// EWMA latency, quota window and last error, the combos, and whether the limits are shared
/// through Redis (or fall back to memory). Needs a key when keys are set.
pub async fn detailed(State(state): State<AppState>, headers: http::HeaderMap) -> Response {
    let config = state.config();
    if let Err(e) = state.authenticate(&config, &headers) {
        return crate::ingress::openai::error_response(&e);
    }
    let targets = state.health().snapshot();
    let providers: Vec<_> = config
        .providers
        .iter()
        .map(|p| {
            let models: Vec<_> = targets
                .iter()
                .filter(|(provider, _, _)| *provider == p.id)
                .map(|(_, model, snap)| json!({ "model": model, "health": snap }))
                .collect();
            json!({
                "id": p.id,
                "name": p.name,
                "wire_format": p.wire_format.as_str(),
                "base_url": p.base_url,
                "credentials": p.credentials.snapshot(),
                "targets": models,
            })
        })
        .collect();
    let combos: Vec<_> = config
        .combos
        .values()
        .map(|c| {
            json!({
                "name": c.name,
                "strategy": c.strategy.as_str(),
                "max_attempts": c.max_attempts,
                "deadline_ms": u64::try_from(c.deadline.as_millis()).unwrap_or(u64::MAX),
                "targets": c.targets.iter().map(|t| format!("{}/{}", t.provider, t.model)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let limiter = &state.services().limiter;
    let redis = match limiter.redis_status() {
        RedisStatus::Degraded { since, last_error } => json!({
            "state": "degraded",
            "since_unix_ms": crate::usage::unix_ms(since),
            "last_error": last_error,
        }),
        other => json!({ "state": other.label() }),
    };
    Json(json!({
        "status": if state.is_draining() { "draining" } else { "ok" },
        "providers": providers,
        "combos": combos,
        "limits": {
            "redis": redis,
            "fallbacks": limiter.redis_fallbacks(),
            "lost_settlements": limiter.lost_settlements(),
        },
    }))
    .into_response()
}
