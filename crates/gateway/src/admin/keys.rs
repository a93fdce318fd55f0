//! Gateway API keys: create (the plaintext `sk-sb-…` is in that one response and nowhere
//! else, ever), list, read, update, revoke, delete. Only the visible prefix is returned
//! afterwards, never the hash. Every change refreshes the gateway's key snapshot, so a new
//! key works and a revoked one stops working on the next request.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use store::{ApiKey, KeyFilter, KeyUpdate, NewApiKey, now_millis};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::common::{Deleted, LimitsDto, double_option, page};
use super::error::{AdminError, ErrorBody};
use super::extract::{self, Body, Path, Query, refresh_keys};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, remove))
        .routes(routes!(revoke))
}

/// A gateway key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The first characters of the key (`sk-sb-AbC1`), to tell keys apart.
    pub prefix: String,
    /// Unix milliseconds; null = never expires.
    pub expires_at: Option<i64>,
    /// Model names or wildcards this key may call; empty = any model.
    pub allowed_models: Vec<String>,
    pub limits: LimitsDto,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// Neither revoked nor expired.
    pub active: bool,
}

impl From<ApiKey> for KeyDto {
    fn from(k: ApiKey) -> Self {
        Self {
            active: k.is_active(now_millis()),
            id: k.id,
            user_id: k.user_id,
            name: k.name,
            prefix: k.prefix,
            expires_at: k.expires_at,
            allowed_models: k.allowed_models,
            limits: LimitsDto::from(&k.limits),
            created_at: k.created_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
        }
    }
}

/// A key just created: the only response that carries its plaintext.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// The key itself (`sk-sb-…`). Shown once: only a keyed hash is stored.
    pub key: String,
    #[serde(flatten)]
    pub api_key: KeyDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub items: Vec<KeyDto>,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KeyListQuery {
    /// Only this user's keys.
    user_id: Option<Uuid>,
    /// Include revoked keys (default false).
    #[serde(default)]
    include_revoked: bool,
    /// Page size, 1..=1000 (default 50).
    limit: Option<u32>,
    offset: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    pub user_id: Uuid,
    pub name: String,
    /// Unix milliseconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Model names or wildcards (`gpt-4o*`, `groq/*`); absent or empty = any model.
    #[serde(default)]
    pub allowed_models: Vec<String>,
    #[serde(default)]
    pub limits: LimitsDto,
}

/// A partial update: absent fields stay; `expires_at: null` removes the expiry; `limits`
/// replaces all limits at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, nullable)]
    pub expires_at: Option<Option<i64>>,
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    #[serde(default)]
    pub limits: Option<LimitsDto>,
}

fn not_found(id: Uuid) -> AdminError {
    AdminError::not_found(format!("api key {id} not found"))
}

/// Lists keys, oldest first.
#[utoipa::path(get, operation_id = "list_keys", path = "/keys", tag = "keys", params(KeyListQuery),
    responses((status = 200, body = KeyList), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<KeyListQuery>,
) -> Result<Json<KeyList>, AdminError> {
    let filter = KeyFilter {
        user_id: q.user_id,
        include_revoked: q.include_revoked,
    };
    let page = page(q.limit, q.offset);
    let keys = extract::store(&state)?.list_keys(&filter, page).await?;
    Ok(Json(KeyList {
        items: keys.into_iter().map(KeyDto::from).collect(),
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Creates a key for a user and returns its plaintext, once.
#[utoipa::path(post, operation_id = "create_key", path = "/keys", tag = "keys", request_body = NewKeyRequest,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody),
        (status = 404, description = "no such user", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Body(req): Body<NewKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), AdminError> {
    let store = extract::store(&state)?;
    let generated = extract::secrets(&state)?.generate_api_key();
    let key = store
        .create_key(&NewApiKey {
            user_id: req.user_id,
            name: req.name,
            prefix: generated.prefix,
            hash: generated.hash,
            expires_at: req.expires_at,
            allowed_models: req.allowed_models,
            limits: (&req.limits).into(),
        })
        .await?;
    refresh_keys(&state).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: generated.plaintext.expose().clone(),
            api_key: key.into(),
        }),
    ))
}

/// One key.
#[utoipa::path(get, operation_id = "get_key", path = "/keys/{id}", tag = "keys", params(("id" = Uuid, Path)),
    responses((status = 200, body = KeyDto), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<KeyDto>, AdminError> {
    let key = extract::store(&state)?
        .get_key(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(Json(key.into()))
}

/// Updates a key's name, expiry, allowed models or limits.
#[utoipa::path(patch, operation_id = "update_key", path = "/keys/{id}", tag = "keys", params(("id" = Uuid, Path)),
    request_body = KeyPatch,
    responses((status = 200, body = KeyDto), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Body(patch): Body<KeyPatch>,
) -> Result<Json<KeyDto>, AdminError> {
    let update = KeyUpdate {
        name: patch.name,
        expires_at: patch.expires_at,
        allowed_models: patch.allowed_models,
        limits: patch.limits.as_ref().map(Into::into),
    };
    let key = extract::store(&state)?.update_key(id, &update).await?;
    refresh_keys(&state).await?;
    Ok(Json(key.into()))
}

/// Revokes a key: it stops working at once and stays listed (with `include_revoked`).
/// Revoking a revoked key keeps the first revocation time.
#[utoipa::path(post, operation_id = "revoke_key", path = "/keys/{id}/revoke", tag = "keys", params(("id" = Uuid, Path)),
    responses((status = 200, body = KeyDto), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<KeyDto>, AdminError> {
    let store = extract::store(&state)?;
    store.revoke_key(id, now_millis()).await?;
    refresh_keys(&state).await?;
    let key = store.get_key(id).await?.ok_or_else(|| not_found(id))?;
    Ok(Json(key.into()))
}

/// Deletes a key outright (its usage records stay).
#[utoipa::path(delete, operation_id = "delete_key", path = "/keys/{id}", tag = "keys", params(("id" = Uuid, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Deleted>, AdminError> {
    if !extract::store(&state)?.delete_key(id).await? {
        return Err(not_found(id));
    }
    refresh_keys(&state).await?;
    Ok(Json(Deleted::YES))
}
