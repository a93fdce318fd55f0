//! `POST …/models/{model}:countTokens`: `{"totalTokens": N}` for `{"contents": […]}` or
//! `{"generateContentRequest": {…}}`, without calling any upstream. The count is an estimate
//! ([`wire::canonical::estimate_input_tokens`]): a quarter of the characters of all text —
//! system instruction, contents, function calls and responses, and function declarations as
//! JSON — rounded up, plus 1,600 per image. The model must exist (404 otherwise) and be
//! allowed for the caller's key.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Value, json};
use wire::gemini::GenerateContentRequest;

use super::{error_response, parse, to_canonical};
use crate::error::GatewayError;
use crate::relay::passthrough::body_error;
use crate::routing::plan::{Estimate, plan};
use crate::state::AppState;

pub(super) fn handler(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    model: &str,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match count(state, peer, headers, model, body) {
        Ok(total) => Json(json!({ "totalTokens": total })).into_response(),
        Err(e) => error_response(&e),
    }
}

fn count(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    model: &str,
    body: Result<Bytes, BytesRejection>,
) -> Result<u64, GatewayError> {
    let config = state.config();
    let body = body.map_err(|r| body_error(&r, config.server.max_body_bytes))?;
    let principal = state.authenticate_from(&config, peer.ip(), headers)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| GatewayError::BadJson {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let inner = value
        .get("generateContentRequest")
        .or_else(|| value.get("generate_content_request"));
    let request: GenerateContentRequest = match inner {
        Some(inner) => parse(inner.to_string().as_bytes())?,
        None => parse(&body)?,
    };
    let request = to_canonical(request, model)?;
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
