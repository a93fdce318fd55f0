//! What Ollama's clients ask to find models: `GET /api/tags` (the gateway's models, the same
//! list as `/v1/models`), `POST /api/show`, `GET /api/ps` (nothing is loaded: always empty),
//! `GET /api/version`, and `GET`/`HEAD /`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use wire::ollama::codec::rfc3339;
use wire::ollama::{ModelDetails, ModelEntry, TagsResponse};

use super::{VERSION, error_response};
use crate::error::GatewayError;
use crate::routing::{ListedModel, Resolved, list_models, resolve};
use crate::state::AppState;

pub async fn root() -> &'static str {
    "Ollama is running"
}

/// Model management: the gateway's models are its providers', not files it can pull or delete.
pub async fn unmanaged(uri: http::Uri) -> Response {
    let body = wire::ollama::ErrorBody {
        error: format!(
            "{} is not supported: this is a Switchboard gateway, whose models come from its \
             configured providers (see /api/tags)",
            uri.path()
        ),
    };
    (http::StatusCode::NOT_IMPLEMENTED, Json(body)).into_response()
}

pub async fn version() -> Json<Value> {
    Json(json!({ "version": VERSION }))
}

pub async fn ps(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let config = state.config();
    if let Err(e) = state.authenticate_from(&config, peer.ip(), &headers) {
        return error_response(&e);
    }
    Json(json!({ "models": [] })).into_response()
}

/// A stable 64-hex-digit digest of a name (Ollama's are SHA-256 of the model file; clients
/// only compare them).
fn digest(name: &str) -> String {
    (0u64..4)
        .map(|seed| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            for b in name.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            format!("{h:016x}")
        })
        .collect()
}

fn details(family: &str) -> ModelDetails {
    ModelDetails {
        parent_model: String::new(),
        format: "api".into(),
        family: family.to_owned(),
        families: Some(vec![family.to_owned()]),
        parameter_size: String::new(),
        quantization_level: String::new(),
    }
}

fn modified_at(created: u64) -> String {
    rfc3339(Duration::from_secs(created))
}

fn entry(m: &ListedModel) -> ModelEntry {
    ModelEntry {
        name: m.id.clone(),
        model: m.id.clone(),
        modified_at: modified_at(m.created),
        size: 0,
        digest: digest(&m.id),
        details: details(&m.owned_by),
    }
}

pub async fn tags(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let config = state.config();
    if let Err(e) = state.authenticate_from(&config, peer.ip(), &headers) {
        return error_response(&e);
    }
    let discovered = state.discovered(&config).await;
    let models = list_models(&config, &discovered)
        .iter()
        .map(entry)
        .collect();
    Json(TagsResponse { models }).into_response()
}

/// `{"model": …}`; older clients send `name`.
#[derive(Deserialize)]
struct ShowRequest {
    #[serde(default)]
    model: String,
    #[serde(default)]
    name: String,
}

pub async fn show(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let config = state.config();
    if let Err(e) = state.authenticate_from(&config, peer.ip(), &headers) {
        return error_response(&e);
    }
    let request: ShowRequest = match body
        .map_err(|e| GatewayError::InvalidRequest {
            param: String::new(),
            message: e.body_text(),
        })
        .and_then(|b| super::parse(&b, "show"))
    {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    let name = if request.model.is_empty() {
        request.name
    } else {
        request.model
    };
    if name.is_empty() {
        return error_response(&GatewayError::InvalidField {
            field: "model",
            expected: "a non-empty string",
        });
    }
    let discovered = state.discovered(&config).await;
    let listed = list_models(&config, &discovered)
        .into_iter()
        .find(|m| m.id == name);
    // A name the router can resolve (e.g. `provider/any-model`) exists even if not listed.
    let resolved = match resolve(&config, &name) {
        Ok(r) => Some(r),
        Err(e) if listed.is_none() => return error_response(&e),
        Err(_) => None,
    };
    let known = match &resolved {
        Some(Resolved::Route(route)) => route.provider.models.get(route.upstream_model),
        _ => None,
    };
    let family = listed.as_ref().map_or_else(
        || match &resolved {
            Some(Resolved::Route(route)) => route.provider.id.clone(),
            _ => "switchboard".to_owned(),
        },
        |m| m.owned_by.clone(),
    );
    let caps: &[String] = known.map_or(&[], |m| m.capabilities.as_slice());
    let has = |c: &str| caps.iter().any(|x| x == c);
    let mut capabilities = Vec::new();
    if has("embeddings") || has("embedding") {
        capabilities.push("embedding");
    } else {
        capabilities.extend(["completion", "tools"]);
        if has("reasoning") {
            capabilities.push("thinking");
        }
        if has("vision") {
            capabilities.push("vision");
        }
    }
    let mut model_info = Map::new();
    model_info.insert("general.architecture".into(), Value::from(family.clone()));
    model_info.insert("general.basename".into(), Value::from(name.clone()));
    if let Some(context) = listed.as_ref().and_then(|m| m.context_window) {
        model_info.insert(format!("{family}.context_length"), Value::from(context));
    }
    Json(json!({
        "modelfile": "",
        "parameters": "",
        "template": "",
        "details": details(&family),
        "model_info": model_info,
        "capabilities": capabilities,
        "modified_at": modified_at(listed.as_ref().map_or(0, |m| m.created)),
    }))
    .into_response()
}
