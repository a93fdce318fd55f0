//! `POST /v1/messages/count_tokens`: `{"input_tokens": N}` for a Messages body, without
//! calling any upstream. The count is an estimate ([`wire::canonical::estimate_input_tokens`]):
//! a quarter of the characters of all text — system, messages, tool results, thinking,
//! tool calls' arguments and tool definitions as JSON — rounded up, plus 1,600 per image.
//! The model must exist (404 otherwise) and be allowed for the caller's key.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::json;

use super::{error_response, parse, to_canonical};
use crate::error::GatewayError;
use crate::relay::passthrough::body_error;
use crate::routing::plan::{Estimate, plan};
use crate::state::AppState;

pub async fn handler(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match count(&state, peer, &headers, body) {
        Ok(input_tokens) => Json(json!({ "input_tokens": input_tokens })).into_response(),
        Err(e) => error_response(&e),
    }
}

fn count(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<u64, GatewayError> {
    let config = state.config();
    let body = body.map_err(|r| body_error(&r, config.server.max_body_bytes))?;
    let principal = state.authenticate_from(&config, peer.ip(), headers)?;
    let request = to_canonical(&parse(&body)?)?;
    if let Some(key) = principal.key()
        && !key.allows(&request.model)
    {
        return Err(GatewayError::Forbidden(format!(
            "this API key may not use the model '{}'",
            request.model
        )));
    }
    let input_tokens = wire::canonical::estimate_input_tokens(&request);
    // Resolving the model is the check that it exists; nothing is sent.
    plan(
        &config,
        state.health(),
        &request.model,
        Estimate {
            input_tokens,
            output_tokens: 0,
        },
    )?;
    Ok(input_tokens)
}
