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

pub async fn list(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let config = state.config();
    let headers = with_query_key(&headers, query.as_deref());
    if let Err(e) = state.authenticate_from(&config, peer.ip(), &headers) {
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
    let config = state.config();
    let headers = with_query_key(&headers, query.as_deref());
    if let Err(e) = state.authenticate_from(&config, peer.ip(), &headers) {
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
