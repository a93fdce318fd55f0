//! `POST /api/embed` and the older `POST /api/embeddings`: the body is rewritten as an OpenAI
//! embeddings request and sent through the fast path (routing, limits, fallback and
//! accounting as for `/v1/embeddings`); the upstream's answer is rewritten in Ollama's shape.
//! Errors are Ollama's `{"error": …}` throughout.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};
use serde_json::{Value, json};
use wire::ollama::{EmbedRequest, EmbedResponse, EmbeddingsRequest, EmbeddingsResponse, Metrics};
use wire::openai::EmbeddingResponse;

use super::{RENDERING, error_response, parse, require_model};
use crate::error::GatewayError;
use crate::providers::openai::Endpoint;
use crate::relay::passthrough;
use crate::state::AppState;

/// The largest upstream embeddings answer read.
const MAX_BODY: usize = 256 << 20;

pub async fn embed(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request = match body.map_err(reject).and_then(|b| {
        let r: EmbedRequest = parse(&b, "embed")?;
        require_model(&r.model)?;
        Ok(r)
    }) {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    let input = match &request.input {
        Value::String(_) => request.input.clone(),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            request.input.clone()
        }
        _ => {
            return error_response(&GatewayError::InvalidField {
                field: "input",
                expected: "a string or a non-empty array of strings",
            });
        }
    };
    let mut upstream = json!({"model": request.model, "input": input, "encoding_format": "float"});
    if let Some(d) = request.dimensions {
        upstream["dimensions"] = Value::from(d);
    }
    let response = call(&state, peer, &headers, &upstream).await;
    rewrite(response, |answer| {
        let mut out = EmbedResponse {
            model: request.model.clone(),
            embeddings: vectors(&answer)?,
            metrics: Metrics::default(),
        };
        out.metrics.prompt_eval_count = answer.usage.as_ref().map(|u| u.prompt_tokens);
        serde_json::to_vec(&out).map_err(|e| e.to_string())
    })
    .await
}

pub async fn embeddings(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request = match body.map_err(reject).and_then(|b| {
        let r: EmbeddingsRequest = parse(&b, "embeddings")?;
        require_model(&r.model)?;
        Ok(r)
    }) {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    let upstream =
        json!({"model": request.model, "input": request.prompt, "encoding_format": "float"});
    let response = call(&state, peer, &headers, &upstream).await;
    rewrite(response, |answer| {
        let embedding = vectors(&answer)?.into_iter().next().unwrap_or_default();
        serde_json::to_vec(&EmbeddingsResponse { embedding }).map_err(|e| e.to_string())
    })
    .await
}

fn reject(e: BytesRejection) -> GatewayError {
    GatewayError::InvalidRequest {
        param: String::new(),
        message: e.body_text(),
    }
}

async fn call(state: &AppState, peer: SocketAddr, headers: &HeaderMap, body: &Value) -> Response {
    let body = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    passthrough::forward_as(
        state,
        passthrough::Mode::Same(Endpoint::Embeddings),
        peer.ip(),
        headers,
        Ok(body),
        &RENDERING,
    )
    .await
}

/// The vectors in input order.
fn vectors(answer: &EmbeddingResponse) -> Result<Vec<Vec<f32>>, String> {
    let mut data: Vec<_> = answer.data.iter().collect();
    data.sort_by_key(|d| d.index);
    data.iter()
        .map(|d| d.embedding.to_floats().map_err(|e| e.to_string()))
        .collect()
}

/// An upstream answer rewritten by `render`; an error (already in Ollama's shape) as it is.
async fn rewrite(
    response: Response,
    render: impl FnOnce(EmbeddingResponse) -> Result<Vec<u8>, String>,
) -> Response {
    if !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let rendered = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| e.to_string())
        .and_then(|b| {
            serde_json::from_slice::<EmbeddingResponse>(&b)
                .map_err(|e| format!("the upstream's answer is not an embeddings response: {e}"))
        })
        .and_then(render);
    match rendered {
        Ok(bytes) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(detail) => error_response(&GatewayError::UpstreamProtocol {
            provider: parts
                .headers
                .get("x-switchboard-provider")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned(),
            detail,
        }),
    }
}
