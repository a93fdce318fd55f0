//! `GET /metrics`: the Prometheus scrape (OpenMetrics text). Like `/health/detailed`, it needs
//! a gateway key once keys exist; 404 when `[metrics] enabled = false`. [`routes`] alone is
//! what `[metrics] listen` serves on its own address.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::GatewayError;
use crate::state::AppState;
use crate::telemetry::metrics;

pub async fn scrape(State(state): State<AppState>, headers: http::HeaderMap) -> Response {
    let config = state.config();
    if let Err(e) = state.authenticate(&config, &headers) {
        return crate::ingress::openai::error_response(&e);
    }
    match metrics::render(&state) {
        Some(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(metrics::CONTENT_TYPE),
            );
            response
        }
        None => crate::ingress::openai::error_response(&GatewayError::NoRoute {
            method: "GET".into(),
            path: "/metrics".into(),
        }),
    }
}

/// Only `/metrics`, for the separate address of `[metrics] listen`.
pub fn routes(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(state)
}
