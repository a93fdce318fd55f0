//! The Anthropic Messages dialect: `POST /v1/messages` (also with `?beta=true`, as Claude
//! Code sends it) and `POST /v1/messages/count_tokens`. Messages are decoded into the
//! canonical model here and go through the translation path of the relay loop; errors render
//! as Anthropic error objects (`error`). Authentication accepts `x-api-key` or a bearer token.

mod count_tokens;
mod error;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::post;
use http::HeaderMap;
use wire::anthropic::MessagesRequest;
use wire::canonical;

pub use error::{error_body, error_event, error_response};

use crate::error::GatewayError;
use crate::relay::passthrough::{self, ErrorRendering, Mode};
use crate::state::AppState;

const RENDERING: ErrorRendering = ErrorRendering {
    response: error_response,
    event: error_event,
};

const MESSAGES: Mode = Mode::Translate {
    client: wire::Dialect::Anthropic,
    label: "messages",
    decode: decode_messages,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens::handler))
}

async fn messages(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    passthrough::forward_as(&state, MESSAGES, peer.ip(), &headers, body, &RENDERING).await
}

/// Parses a Messages body (no check of `max_tokens`: `count_tokens` has none).
fn parse(body: &[u8]) -> Result<MessagesRequest, GatewayError> {
    let request: MessagesRequest = serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            GatewayError::BadJson {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            }
        } else {
            GatewayError::InvalidRequest {
                param: String::new(),
                message: format!("the request body does not match the Messages API: {e}"),
            }
        }
    })?;
    if request.model.is_empty() {
        return Err(GatewayError::InvalidField {
            field: "model",
            expected: "a non-empty string",
        });
    }
    if request.messages.is_empty() {
        return Err(GatewayError::InvalidField {
            field: "messages",
            expected: "a non-empty array of messages",
        });
    }
    Ok(request)
}

fn to_canonical(request: &MessagesRequest) -> Result<canonical::Request, GatewayError> {
    wire::anthropic::codec::decode_request(request).map_err(|e| GatewayError::InvalidRequest {
        param: e.field,
        message: e.message,
    })
}

/// Decodes a `POST /v1/messages` body into the canonical request.
fn decode_messages(body: &[u8]) -> Result<canonical::Request, GatewayError> {
    let request = parse(body)?;
    if request.max_tokens.is_none() {
        return Err(GatewayError::MissingField {
            field: "max_tokens",
        });
    }
    to_canonical(&request)
}
