//! `POST …/models/{model}:embedContent` and `:batchEmbedContents`, through the upstream's
//! OpenAI `/embeddings`: the text parts of each content (joined by newlines) become the
//! `input`, `outputDimensionality` becomes `dimensions`; `taskType` and `title` have no
//! OpenAI counterpart and are ignored. The answer is `{"embedding": {"values"}}` or
//! `{"embeddings": [{"values"}, …]}`; usage is recorded as for an OpenAI embeddings call.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use super::{JSON, error_response};
use crate::error::GatewayError;
use crate::providers::openai::Endpoint;
use crate::relay::passthrough::{self, Mode};
use crate::state::AppState;

/// The largest upstream embeddings answer converted.
const MAX_ANSWER: usize = 256 << 20;

pub(super) async fn handler(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    model: &str,
    batch: bool,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => match to_openai(model, &b, batch) {
            Ok(b) => Ok(b),
            Err(e) => return error_response(&e),
        },
        Err(r) => Err(r),
    };
    let mode = Mode::Same(Endpoint::Embeddings);
    let response = passthrough::forward_as(state, mode, peer.ip(), headers, body, &JSON).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let converted = match axum::body::to_bytes(body, MAX_ANSWER).await {
        Ok(bytes) => from_openai(&bytes, batch),
        Err(e) => Err(GatewayError::Internal(format!(
            "reading the embeddings: {e}"
        ))),
    };
    match converted {
        Ok(out) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(out))
        }
        Err(e) => error_response(&e),
    }
}

fn invalid(param: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidRequest {
        param: param.into(),
        message: message.into(),
    }
}

/// The text of a `content`: its text parts, joined by newlines.
fn text_of(content: Option<&Value>, field: &str) -> Result<String, GatewayError> {
    let parts = content
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(field, format!("{field}: expected a content with parts")))?;
    let texts = parts
        .iter()
        .map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            invalid(
                field,
                format!("{field}: only text parts can be embedded through this gateway"),
            )
        })?;
    Ok(texts.join("\n"))
}

fn dimensions(request: &Value) -> Option<&Value> {
    request
        .get("outputDimensionality")
        .or_else(|| request.get("output_dimensionality"))
}

/// The OpenAI embeddings body for a Gemini one.
fn to_openai(model: &str, body: &[u8], batch: bool) -> Result<Bytes, GatewayError> {
    let request: Value = serde_json::from_slice(body).map_err(|e| GatewayError::BadJson {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let (input, dims) = if batch {
        let requests = request
            .get("requests")
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| invalid("requests", "requests: expected a non-empty array"))?;
        let texts = requests
            .iter()
            .enumerate()
            .map(|(i, r)| text_of(r.get("content"), &format!("requests[{i}].content")))
            .collect::<Result<Vec<_>, _>>()?;
        (json!(texts), requests.first().and_then(dimensions))
    } else {
        (
            json!(text_of(request.get("content"), "content")?),
            dimensions(&request),
        )
    };
    let mut out = json!({ "model": model, "input": input, "encoding_format": "float" });
    if let Some(d) = dims {
        out["dimensions"] = d.clone();
    }
    Ok(Bytes::from(out.to_string()))
}

/// Gemini's answer from the OpenAI one.
fn from_openai(body: &[u8], batch: bool) -> Result<Bytes, GatewayError> {
    let bad = |detail: &str| GatewayError::Internal(format!("an embeddings answer {detail}"));
    let answer: Value = serde_json::from_slice(body).map_err(|_| bad("is not JSON"))?;
    let mut data: Vec<&Value> = answer
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("has no data"))?
        .iter()
        .collect();
    data.sort_by_key(|d| d.get("index").and_then(Value::as_u64).unwrap_or(0));
    let values = data
        .iter()
        .map(|d| {
            d.get("embedding")
                .filter(|e| e.is_array())
                .map(|e| json!({ "values": e }))
                .ok_or_else(|| bad("has an embedding that is not a list of floats"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = if batch {
        json!({ "embeddings": values })
    } else {
        json!({ "embedding": values.into_iter().next().ok_or_else(|| bad("is empty"))? })
    };
    Ok(Bytes::from(out.to_string()))
}
