//! `GET /health` (liveness) and `GET /health/ready` (readiness: providers configured and not
//! shutting down).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

pub async fn live() -> Response {
    Json(json!({ "status": "ok" })).into_response()
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
