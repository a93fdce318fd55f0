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
use axum::response::Response;
use axum::routing::{get, post};
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
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{*id}", get(models::get))
}

async fn chat_completions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    passthrough::forward(
        &state,
        Endpoint::ChatCompletions,
        peer.ip(),
        &headers,
        body,
        &RENDERING,
    )
    .await
}

async fn completions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    passthrough::forward(
        &state,
        Endpoint::Completions,
        peer.ip(),
        &headers,
        body,
        &RENDERING,
    )
    .await
}

async fn embeddings(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    passthrough::forward(
        &state,
        Endpoint::Embeddings,
        peer.ip(),
        &headers,
        body,
        &RENDERING,
    )
    .await
}
