//! The Ollama API dialect, for Ollama's clients (the `ollama` libraries, Open WebUI, …):
//!
//! - `POST /api/chat`, `POST /api/generate`: decoded into the canonical model and sent
//!   through the translation path of the relay loop; answers stream as NDJSON
//!   (`application/x-ndjson`) unless the client sends `"stream": false`;
//! - `POST /api/embed`, `POST /api/embeddings`: sent as OpenAI embeddings requests through the
//!   fast path, the answer rewritten in Ollama's shape (`embed`);
//! - `GET /api/tags`, `POST /api/show`, `GET /api/ps`, `GET /api/version`, and `GET`/`HEAD /`
//!   ("Ollama is running"), which clients use to find a server (`models`);
//! - `pull`, `push`, `create`, `copy`, `delete`, `blobs`: 501 with an Ollama error — the
//!   gateway's models are its providers', not files it manages.
//!
//! Every route is also served under `/v1` (`/v1/api/chat`, …). Errors are `{"error": "…"}`
//! with the gateway's status, and a last `{"error": "…"}` line when a stream fails midway.
//! Ollama itself has no authentication; the gateway's applies as on every route (a bearer
//! token), except on `/`, `/api/version` (no data behind them).

mod embed;
mod error;
mod models;
pub(crate) mod render;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::{delete, get, post};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use wire::canonical;
use wire::ollama::{ChatRequest, GenerateRequest, Options};

pub use error::{error_body, error_event, error_response};

use crate::error::GatewayError;
use crate::relay::passthrough::{self, ErrorRendering, Mode};
use crate::state::AppState;

/// The Ollama version `/api/version` reports: a recent release, so that clients checking for
/// features (thinking, tool streaming) find them.
pub const VERSION: &str = "0.13.0";

const RENDERING: ErrorRendering = ErrorRendering {
    response: error_response,
    event: error_event,
};

const CHAT: Mode = Mode::Translate {
    client: wire::Dialect::Ollama,
    label: "ollama_chat",
    decode: decode_chat,
};

const GENERATE: Mode = Mode::Translate {
    client: wire::Dialect::Ollama,
    label: "ollama_generate",
    decode: decode_generate,
};

pub fn routes() -> Router<AppState> {
    let api = Router::new()
        .route("/api/chat", post(chat))
        .route("/api/generate", post(generate))
        .route("/api/embed", post(embed::embed))
        .route("/api/embeddings", post(embed::embeddings))
        .route("/api/tags", get(models::tags))
        .route("/api/show", post(models::show))
        .route("/api/ps", get(models::ps))
        .route("/api/version", get(models::version))
        .route("/api/pull", post(models::unmanaged))
        .route("/api/push", post(models::unmanaged))
        .route("/api/create", post(models::unmanaged))
        .route("/api/copy", post(models::unmanaged))
        .route("/api/delete", delete(models::unmanaged))
        .route(
            "/api/blobs/{digest}",
            post(models::unmanaged).head(models::unmanaged),
        );
    Router::new()
        .route("/", get(models::root).head(models::root))
        .merge(api.clone())
        .nest("/v1", api)
}

async fn chat(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    passthrough::forward_as(&state, CHAT, peer.ip(), &headers, body, &RENDERING).await
}

async fn generate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    passthrough::forward_as(&state, GENERATE, peer.ip(), &headers, body, &RENDERING).await
}

/// Parses a body of one of the Ollama requests, naming what is wrong.
fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, GatewayError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            GatewayError::BadJson {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            }
        } else {
            GatewayError::InvalidRequest {
                param: String::new(),
                message: format!("the request body does not match Ollama's {what} request: {e}"),
            }
        }
    })
}

fn require_model(model: &str) -> Result<(), GatewayError> {
    if model.is_empty() {
        return Err(GatewayError::InvalidField {
            field: "model",
            expected: "a non-empty string",
        });
    }
    Ok(())
}

/// Options no upstream has are dropped; `num_ctx` is the one clients set most.
fn note_ignored(options: Option<&Options>) {
    if let Some(o) = options.filter(|o| !o.extra.is_empty()) {
        let names: Vec<&str> = o.extra.keys().map(String::as_str).collect();
        tracing::debug!(options = ?names, "Ollama options without an upstream counterpart ignored");
    }
}

fn invalid(e: canonical::DecodeError) -> GatewayError {
    GatewayError::InvalidRequest {
        param: e.field,
        message: e.message,
    }
}

/// Decodes a `POST /api/chat` body into the canonical request.
fn decode_chat(body: &[u8]) -> Result<canonical::Request, GatewayError> {
    let request: ChatRequest = parse(body, "chat")?;
    require_model(&request.model)?;
    if request.messages.is_empty() {
        return Err(GatewayError::InvalidField {
            field: "messages",
            expected: "a non-empty array of messages",
        });
    }
    note_ignored(request.options.as_ref());
    wire::ollama::codec::decode_chat(&request).map_err(invalid)
}

/// Decodes a `POST /api/generate` body into the canonical request.
fn decode_generate(body: &[u8]) -> Result<canonical::Request, GatewayError> {
    let request: GenerateRequest = parse(body, "generate")?;
    require_model(&request.model)?;
    note_ignored(request.options.as_ref());
    wire::ollama::codec::decode_generate(&request).map_err(invalid)
}
