//! `GET /v1/models` and `GET /v1/models/{id}` (ids may contain `/`).

use axum::Json;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::json;

use super::error_response;

use crate::routing::{Resolved, list_models};
use crate::state::AppState;

pub async fn list(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if crate::ingress::gemini::models::is_gemini_client(&headers) {
        return crate::ingress::gemini::models::list_models_for(&state, peer, &headers).await;
    }
    let config = state.config();
    if let Err(e) = state.authenticate_from(&config, peer.ip(), &headers) {
        return error_response(&e);
    }
    let discovered = state.discovered(&config).await;
    Json(json!({ "object": "list", "data": list_models(&config, &discovered) })).into_response()
}

pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if crate::ingress::gemini::models::is_gemini_client(&headers) {
        return crate::ingress::gemini::models::get_model_for(&state, peer, &headers, &id).await;
    }
    let config = state.config();
    if let Err(e) = state.authenticate_from(&config, peer.ip(), &headers) {
        return error_response(&e);
    }
    let id = id.trim_start_matches('/');
    let discovered = state.discovered(&config).await;
    if let Some(m) = list_models(&config, &discovered)
        .into_iter()
        .find(|m| m.id == id)
    {
        return Json(m).into_response();
    }
    // A name the router can resolve (e.g. `groq/any-model`) exists even if not listed.
    match crate::routing::resolve(&config, id) {
        Ok(resolved) => Json(json!({
            "id": id,
            "object": "model",
            "created": 0,
            "owned_by": match resolved {
                Resolved::Route(route) => route.provider.id.as_str(),
                Resolved::Combo(_) => "switchboard",
            },
        }))
        .into_response(),
        Err(e) => error_response(&e),
    }
}
