//! `GET /v1beta/models` and `GET /v1beta/models/{model}` in Gemini's format: each model as
//! `{"name": "models/…", "displayName", "inputTokenLimit", "outputTokenLimit",
//! "supportedGenerationMethods"}`, from the gateway's own listing.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Value, json};

use super::{error_response, with_query_key};
use crate::routing::{ListedModel, list_models};
use crate::state::AppState;

const METHODS: [&str; 3] = ["generateContent", "streamGenerateContent", "countTokens"];

fn model(id: &str, m: Option<&ListedModel>) -> Value {
    let mut v = json!({
        "name": format!("models/{id}"),
        "baseModelId": id,
        "version": "001",
        "displayName": id,
        "supportedGenerationMethods": METHODS,
    });
    if let Some(m) = m {
        if let Some(d) = &m.description {
            v["description"] = json!(d);
        }
        if let Some(c) = m.context_window {
            v["inputTokenLimit"] = json!(c);
        }
        if let Some(o) = m.max_output_tokens {
            v["outputTokenLimit"] = json!(o);
        }
    }
    v
}

/// Whether a request comes from a Gemini client (the `google-genai` SDKs send both headers;
/// OpenAI clients neither): `GET /v1/models` answers those in Gemini's format, as the SDKs
/// list models under `/v1/` by default.
pub fn is_gemini_client(headers: &HeaderMap) -> bool {
    headers.contains_key("x-goog-api-client") || headers.contains_key("x-goog-api-key")
}

pub async fn list(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    list_models_for(&state, peer, &with_query_key(&headers, query.as_deref())).await
}

/// The Gemini listing, for an authenticated caller.
pub async fn list_models_for(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Response {
    let config = state.config();
    if let Err(e) = state.authenticate_from(&config, peer.ip(), headers) {
        return error_response(&e);
    }
    let discovered = state.discovered(&config).await;
    let models: Vec<Value> = list_models(&config, &discovered)
        .iter()
        .map(|m| model(&m.id, Some(m)))
        .collect();
    Json(json!({ "models": models })).into_response()
}

pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    get_model_for(
        &state,
        peer,
        &with_query_key(&headers, query.as_deref()),
        &id,
    )
    .await
}

/// One model in Gemini's format (`id` with or without `models/`), for an authenticated caller.
pub async fn get_model_for(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    id: &str,
) -> Response {
    let config = state.config();
    if let Err(e) = state.authenticate_from(&config, peer.ip(), headers) {
        return error_response(&e);
    }
    let id = id.trim_start_matches('/');
    let id = id.strip_prefix("models/").unwrap_or(id);
    let discovered = state.discovered(&config).await;
    if let Some(m) = list_models(&config, &discovered)
        .iter()
        .find(|m| m.id == id)
    {
        return Json(model(id, Some(m))).into_response();
    }
    // A name the router can resolve (e.g. `groq/any-model`) exists even if not listed.
    match crate::routing::resolve(&config, id) {
        Ok(_) => Json(model(id, None)).into_response(),
        Err(e) => error_response(&e),
    }
}
