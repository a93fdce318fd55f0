//! Providers and upstream credentials created at run time, beside the read-only ones from
//! the configuration file (listed too, marked `read_only`).
//!
//! A stored provider's `config` has the shape of a `[providers.ID]` table of the config
//! file, checked by the same parser. Credentials are sealed (AES-256-GCM) by the store
//! before they are written and never come back out of this API: only their metadata does.
//! Every change is applied to routing at once ([`apply_routing`]); a stored provider the
//! merge had to leave out is listed with `active: false` and the reason.
//!
//! `POST /providers/{id}/test` makes one authenticated `GET {base_url}/models` and reports
//! the status and latency; `POST /providers/{id}/discover` lists the upstream's models and,
//! with `?save=true`, records them in a stored provider's `models`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{Credential, Secret, StoredProvider};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::common::Deleted;
use super::error::{AdminError, ErrorBody};
use super::extract::{self, Body, Path, Query};
use crate::config::RawConfig;
use crate::providers::discovery::{self, DiscoveredModel};
use crate::providers::{Origin, Provider};
use crate::state::AppState;

/// How long "test connection" and "discover" wait for the upstream.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, remove))
        .routes(routes!(list_credentials, add_credential))
        .routes(routes!(remove_credential))
        .routes(routes!(test_connection))
        .routes(routes!(discover))
}

/// Applies a stored change to routing at once. The change is saved already when this
/// fails, and the error says so.
pub(super) async fn apply_routing(state: &AppState) -> Result<(), AdminError> {
    state.reload_routing().await.map(drop).map_err(|err| {
        AdminError::internal(
            "the change was saved, but the routing configuration could not be rebuilt",
            err,
        )
    })
}

/// Where a provider is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderSource {
    /// The configuration file: read-only here.
    Config,
    /// Enabled by an API key in the environment: read-only here.
    Environment,
    /// Created through this API.
    Store,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderDto {
    pub id: String,
    pub source: ProviderSource,
    /// True for providers from the config file or the environment.
    pub read_only: bool,
    /// Whether requests are routed to it now. A stored provider is left out when its
    /// config is invalid (or it has no credential yet): `error` says why.
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For stored providers, the config as given; for the others a summary (name, base
    /// URL, models), never their credentials.
    #[schema(value_type = Object)]
    pub config: Value,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

impl From<StoredProvider> for ProviderDto {
    fn from(p: StoredProvider) -> Self {
        Self {
            id: p.id,
            source: ProviderSource::Store,
            read_only: false,
            active: true,
            error: None,
            config: p.config,
            created_at: Some(p.created_at),
            updated_at: Some(p.updated_at),
        }
    }
}

impl From<&Provider> for ProviderDto {
    fn from(p: &Provider) -> Self {
        Self {
            id: p.id.clone(),
            source: match p.origin {
                Origin::Config => ProviderSource::Config,
                Origin::DetectedFromEnv(_) => ProviderSource::Environment,
                Origin::Store => ProviderSource::Store,
            },
            read_only: true,
            active: true,
            error: None,
            config: json!({
                "name": p.name,
                "base_url": p.base_url,
                "models": p.models.keys().collect::<Vec<_>>(),
            }),
            created_at: None,
            updated_at: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderList {
    pub items: Vec<ProviderDto>,
}

/// A provider to create (or replace, if stored already).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProviderRequest {
    /// 1–64 characters from `[A-Za-z0-9._-]`.
    pub id: String,
    /// A `[providers.ID]` table of the config file, as JSON (`base_url`, `wire_format`,
    /// `auth`, `models`, …). Put keys in credentials, not here.
    #[schema(value_type = Object)]
    pub config: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialDto {
    pub id: Uuid,
    pub provider_id: String,
    pub label: String,
    pub created_at: i64,
}

impl From<Credential> for CredentialDto {
    fn from(c: Credential) -> Self {
        Self {
            id: c.id,
            provider_id: c.provider_id,
            label: c.label,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialList {
    pub items: Vec<CredentialDto>,
}

/// An upstream credential: sealed on arrival, never returned.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCredentialRequest {
    pub label: String,
    #[schema(value_type = String, format = Password)]
    pub secret: Secret<String>,
}

/// Checks a provider config with the config file's own parser.
fn validate_config(id: &str, config: &Value) -> Result<(), AdminError> {
    if !config.is_object() {
        return Err(AdminError::bad_request(
            "invalid_provider",
            "config must be an object",
        ));
    }
    serde_json::from_value::<RawConfig>(json!({ "providers": { id: config } }))
        .map(drop)
        .map_err(|err| AdminError::bad_request("invalid_provider", format!("config: {err}")))
}

/// The provider with this id in the config file or the environment, if any.
fn declared(state: &AppState, id: &str) -> Option<ProviderDto> {
    state
        .base_config()
        .provider(id)
        .map(|p| ProviderDto::from(p.as_ref()))
}

/// A stored provider as listed: whether routing uses it, and if not, why.
fn stored_dto(state: &AppState, p: StoredProvider) -> ProviderDto {
    let active = state
        .config()
        .provider(&p.id)
        .is_some_and(|live| live.origin == Origin::Store);
    let error = (!active).then(|| {
        if p.config.get("enabled") == Some(&Value::Bool(false)) {
            return "disabled (enabled = false)".to_owned();
        }
        state
            .skipped_routing()
            .iter()
            .find(|s| s.kind == "provider" && s.name == p.id)
            .map_or_else(|| "not applied yet".to_owned(), |s| s.reason.clone())
    });
    ProviderDto {
        active,
        error,
        ..ProviderDto::from(p)
    }
}

/// Every provider: the declared ones first, then the stored ones.
#[utoipa::path(get, operation_id = "list_providers", path = "/providers", tag = "providers",
    responses((status = 200, body = ProviderList), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<ProviderList>, AdminError> {
    let stored = extract::store(&state)?.list_providers().await?;
    let items = state
        .base_config()
        .providers
        .iter()
        .map(|p| ProviderDto::from(p.as_ref()))
        .chain(stored.into_iter().map(|p| stored_dto(&state, p)))
        .collect();
    Ok(Json(ProviderList { items }))
}

/// Creates or replaces a stored provider. Ids declared in the config file or the
/// environment are read-only (409).
#[utoipa::path(post, operation_id = "create_provider", path = "/providers", tag = "providers", request_body = NewProviderRequest,
    responses((status = 201, body = ProviderDto), (status = 400, body = ErrorBody),
        (status = 409, description = "declared in the config file", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Body(req): Body<NewProviderRequest>,
) -> Result<(StatusCode, Json<ProviderDto>), AdminError> {
    if declared(&state, &req.id).is_some() {
        return Err(AdminError::conflict(
            "read_only",
            format!(
                "provider {} is declared in the configuration and is read-only here",
                req.id
            ),
        ));
    }
    if let Some(owner) = state.base_config().prefixes.get(&req.id) {
        return Err(AdminError::conflict(
            "read_only",
            format!(
                "{} is an alias of provider {owner} from the configuration",
                req.id
            ),
        ));
    }
    validate_config(&req.id, &req.config)?;
    let stored = extract::store(&state)?
        .put_provider(&req.id, &req.config)
        .await?;
    apply_routing(&state).await?;
    Ok((StatusCode::CREATED, Json(stored_dto(&state, stored))))
}

/// One provider, declared or stored.
#[utoipa::path(get, operation_id = "get_provider", path = "/providers/{id}", tag = "providers", params(("id" = String, Path)),
    responses((status = 200, body = ProviderDto), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProviderDto>, AdminError> {
    let store = extract::store(&state)?;
    if let Some(p) = declared(&state, &id) {
        return Ok(Json(p));
    }
    let p = store
        .get_provider(&id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("provider {id} not found")))?;
    Ok(Json(stored_dto(&state, p)))
}

/// Deletes a stored provider and its credentials.
#[utoipa::path(delete, operation_id = "delete_provider", path = "/providers/{id}", tag = "providers", params(("id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody),
        (status = 409, description = "declared in the config file", body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Deleted>, AdminError> {
    let store = extract::store(&state)?;
    if declared(&state, &id).is_some() {
        return Err(AdminError::conflict(
            "read_only",
            format!("provider {id} is declared in the configuration and is read-only here"),
        ));
    }
    if !store.delete_provider(&id).await? {
        return Err(AdminError::not_found(format!("provider {id} not found")));
    }
    apply_routing(&state).await?;
    Ok(Json(Deleted::YES))
}

/// 404 unless the provider is declared or stored.
async fn require_provider(state: &AppState, id: &str) -> Result<(), AdminError> {
    let store = extract::store(state)?;
    if declared(state, id).is_some() || store.get_provider(id).await?.is_some() {
        return Ok(());
    }
    Err(AdminError::not_found(format!("provider {id} not found")))
}

/// A provider's stored credentials: metadata only.
#[utoipa::path(get, operation_id = "list_credentials", path = "/providers/{id}/credentials", tag = "providers",
    params(("id" = String, Path)),
    responses((status = 200, body = CredentialList), (status = 404, body = ErrorBody)))]
pub async fn list_credentials(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CredentialList>, AdminError> {
    require_provider(&state, &id).await?;
    let items = extract::store(&state)?
        .list_credentials(Some(&id))
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(CredentialList { items }))
}

/// Adds a credential to a provider (declared or stored); the secret is sealed at once.
#[utoipa::path(post, operation_id = "add_credential", path = "/providers/{id}/credentials", tag = "providers",
    params(("id" = String, Path)), request_body = NewCredentialRequest,
    responses((status = 201, body = CredentialDto), (status = 404, body = ErrorBody)))]
pub async fn add_credential(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(req): Body<NewCredentialRequest>,
) -> Result<(StatusCode, Json<CredentialDto>), AdminError> {
    if req.label.trim().is_empty() || req.secret.expose().trim().is_empty() {
        return Err(AdminError::bad_request(
            "invalid_credential",
            "label and secret must not be empty",
        ));
    }
    require_provider(&state, &id).await?;
    let credential = extract::store(&state)?
        .add_credential(
            extract::secrets(&state)?,
            &id,
            req.label.trim(),
            &req.secret,
        )
        .await?;
    apply_routing(&state).await?;
    Ok((StatusCode::CREATED, Json(credential.into())))
}

/// Deletes one of a provider's credentials.
#[utoipa::path(delete, operation_id = "delete_credential", path = "/providers/{id}/credentials/{cid}", tag = "providers",
    params(("id" = String, Path), ("cid" = Uuid, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn remove_credential(
    State(state): State<AppState>,
    Path((id, cid)): Path<(String, Uuid)>,
) -> Result<Json<Deleted>, AdminError> {
    let store = extract::store(&state)?;
    let owned = store
        .list_credentials(Some(&id))
        .await?
        .iter()
        .any(|c| c.id == cid);
    if !owned || !store.delete_credential(cid).await? {
        return Err(AdminError::not_found(format!(
            "credential {cid} of provider {id} not found"
        )));
    }
    apply_routing(&state).await?;
    Ok(Json(Deleted::YES))
}

/// The provider routing uses under this id; a stored one left out of routing is a 409
/// with the reason.
fn live_provider(state: &AppState, id: &str) -> Result<std::sync::Arc<Provider>, AdminError> {
    if let Some(p) = state.config().provider(id) {
        return Ok(std::sync::Arc::clone(p));
    }
    let skipped = state.skipped_routing();
    match skipped
        .iter()
        .find(|s| s.kind == "provider" && s.name == id)
    {
        Some(s) => Err(AdminError::conflict(
            "inactive_provider",
            format!("provider {id} is stored but not active: {}", s.reason),
        )),
        None => Err(AdminError::not_found(format!("provider {id} not found"))),
    }
}

/// The outcome of "test connection".
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionTest {
    /// True when the upstream listed its models.
    pub ok: bool,
    /// The upstream's HTTP status, when it answered.
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// How many models it listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<usize>,
    /// What went wrong (the upstream's own message where there is one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Tests a provider: one authenticated `GET {base_url}/models` upstream. An upstream
/// refusal (a wrong key's 401) is reported in the body, not as this request's status.
#[utoipa::path(post, operation_id = "test_provider", path = "/providers/{id}/test", tag = "providers",
    params(("id" = String, Path)),
    responses((status = 200, body = ConnectionTest), (status = 404, body = ErrorBody),
        (status = 409, description = "stored but not active (invalid, or no credential)", body = ErrorBody)))]
pub async fn test_connection(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConnectionTest>, AdminError> {
    let provider = live_provider(&state, &id)?;
    let probe = discovery::probe(state.http(), &provider, PROBE_TIMEOUT).await;
    let latency_ms = u64::try_from(probe.latency.as_millis()).unwrap_or(u64::MAX);
    let (ok, models, error) = match probe.models {
        Ok(models) => (true, Some(models.len()), None),
        Err(reason) => (false, None, Some(reason)),
    };
    Ok(Json(ConnectionTest {
        ok,
        status: probe.status,
        latency_ms,
        models,
        error,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiscoverQuery {
    /// Record the models in the stored provider's `models` (stored providers only).
    #[serde(default)]
    save: bool,
}

/// One model the upstream lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscoveredModelDto {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
}

impl From<DiscoveredModel> for DiscoveredModelDto {
    fn from(m: DiscoveredModel) -> Self {
        Self {
            id: m.id,
            context_window: m.context_window,
            max_output_tokens: m.max_output_tokens,
            owned_by: m.owned_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Discovered {
    pub provider: String,
    pub items: Vec<DiscoveredModelDto>,
    /// Whether the models were recorded in the stored provider.
    pub saved: bool,
}

/// Lists the upstream's models now (not from the cache). With `?save=true` they are added
/// to the stored provider's `models` (a context window or output limit the upstream gives
/// fills one not set yet; nothing set is overwritten).
#[utoipa::path(post, operation_id = "discover_models", path = "/providers/{id}/discover", tag = "providers",
    params(("id" = String, Path), DiscoverQuery),
    responses((status = 200, body = Discovered), (status = 404, body = ErrorBody),
        (status = 409, description = "save=true on a read-only provider, or a stored provider that is not active", body = ErrorBody),
        (status = 502, description = "the upstream did not list its models", body = ErrorBody)))]
pub async fn discover(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<DiscoverQuery>,
) -> Result<Json<Discovered>, AdminError> {
    if query.save && declared(&state, &id).is_some() {
        return Err(AdminError::conflict(
            "read_only",
            format!(
                "provider {id} is declared in the configuration: list its models there instead"
            ),
        ));
    }
    let provider = live_provider(&state, &id)?;
    let models = discovery::probe(state.http(), &provider, PROBE_TIMEOUT)
        .await
        .models
        .map_err(|reason| {
            AdminError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!("provider {id} did not list its models: {reason}"),
            )
        })?;
    if query.save {
        save_models(&state, &id, &models).await?;
    }
    Ok(Json(Discovered {
        provider: id,
        items: models.into_iter().map(Into::into).collect(),
        saved: query.save,
    }))
}

/// Adds discovered models to a stored provider's config and applies it.
async fn save_models(
    state: &AppState,
    id: &str,
    models: &[DiscoveredModel],
) -> Result<(), AdminError> {
    let store = extract::store(state)?;
    let stored = store
        .get_provider(id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("provider {id} not found")))?;
    let mut config = stored.config;
    discovery::merge_into_config(&mut config, models);
    validate_config(id, &config)?;
    store.put_provider(id, &config).await?;
    apply_routing(state).await
}
