//! The OpenAI dialect: `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`,
//! `/v1/models`. Handlers are thin: they hand the body to the fast path with this dialect's
//! error rendering.

mod error;
mod models;

use axum::Router;
use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::routing::{MethodRouter, get, post};
use http::HeaderMap;

pub use error::{error_body, error_event, error_response};

use crate::providers::openai::Endpoint;
use crate::relay::passthrough::{self, ErrorRendering};
use crate::state::AppState;

const RENDERING: ErrorRendering = ErrorRendering {
    response: error_response,
    event: error_event,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", relay(Endpoint::ChatCompletions))
        .route("/v1/completions", relay(Endpoint::Completions))
        .route("/v1/embeddings", relay(Endpoint::Embeddings))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{*id}", get(models::get))
}

/// The handler of one relayed endpoint: the body goes to the fast path, errors render here.
fn relay(endpoint: Endpoint) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>,
              ConnectInfo(peer): ConnectInfo<SocketAddr>,
              headers: HeaderMap,
              body: Result<Bytes, BytesRejection>| async move {
            passthrough::forward(&state, endpoint, peer.ip(), &headers, body, &RENDERING).await
        },
    )
}
