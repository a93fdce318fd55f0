//! Virtual models, combos and model prices created at run time. Names declared in the
//! configuration file are listed too, marked `read_only`, and cannot be replaced here.
//!
//! A definition has the shape of a `[models.NAME]` or `[combos.NAME]` table of the config
//! file and is checked by the same parser here; references (targets) are resolved when the
//! change is applied to routing, right after it is saved. An entry that cannot be resolved
//! (an unknown target, a combo cycle) is kept but left out of routing, and listed with
//! `active: false` and the reason. Prices are micro-dollars per million tokens and override
//! the catalog's (and the config file's) for usage cost and `GET /v1/models`.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{ModelPrice, VirtualKind, VirtualModel};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::Deleted;
use super::error::{AdminError, ErrorBody};
use super::extract::{self, Body, Path};
use super::providers::apply_routing;
use crate::config::{Config, RawConfig};
use crate::state::AppState;

/// Documents the one route `routes!` cannot register (its axum path differs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(delete_price))]
struct CatchAllPaths;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<CatchAllPaths as utoipa::OpenApi>::openapi())
        .routes(routes!(list_models, put_model))
        .routes(routes!(get_model, delete_model))
        .routes(routes!(list_prices, put_price))
        // Model names may contain `/`: a catch-all segment, documented by `CatchAllPaths`.
        .route(
            "/prices/{provider}/{*model}",
            axum::routing::delete(delete_price),
        )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// One `provider/model` with default parameters.
    Model,
    /// Targets tried under a strategy.
    Combo,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelDto {
    pub name: String,
    pub kind: ModelKind,
    /// True for names declared in the configuration file.
    pub read_only: bool,
    /// Whether requests can use it now; a stored entry left out of routing has `error`.
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[schema(value_type = Object)]
    pub definition: Value,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

impl From<VirtualModel> for ModelDto {
    fn from(m: VirtualModel) -> Self {
        Self {
            name: m.name,
            kind: match m.kind {
                VirtualKind::Model => ModelKind::Model,
                VirtualKind::Combo => ModelKind::Combo,
            },
            read_only: false,
            active: true,
            error: None,
            definition: m.definition,
            created_at: Some(m.created_at),
            updated_at: Some(m.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub items: Vec<ModelDto>,
}

/// A virtual model or combo to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutModelRequest {
    pub name: String,
    pub kind: ModelKind,
    /// For a model: `{"target": "provider/model", "params": {…}}`; for a combo:
    /// `{"strategy": "fallback", "targets": ["a/b", {"target": "c/d", "weight": 2}]}`.
    #[schema(value_type = Object)]
    pub definition: Value,
}

/// A price override in micro-dollars per million tokens.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceDto {
    pub provider: String,
    /// The upstream model name.
    pub model: String,
    pub input_per_mtok_micros: i64,
    pub output_per_mtok_micros: i64,
    /// 0 (the default): no cache-read price, cache reads cost the input price.
    #[serde(default)]
    pub cache_read_per_mtok_micros: i64,
    /// 0 (the default): no cache-write price, cache writes cost the input price.
    #[serde(default)]
    pub cache_write_per_mtok_micros: i64,
    /// Set by the server.
    #[serde(default, skip_deserializing)]
    pub updated_at: i64,
}

impl From<ModelPrice> for PriceDto {
    fn from(p: ModelPrice) -> Self {
        Self {
            provider: p.provider,
            model: p.model,
            input_per_mtok_micros: p.input_per_mtok,
            output_per_mtok_micros: p.output_per_mtok,
            cache_read_per_mtok_micros: p.cache_read_per_mtok,
            cache_write_per_mtok_micros: p.cache_write_per_mtok,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceList {
    pub items: Vec<PriceDto>,
}

/// The config file's models and combos, as read-only entries.
fn declared(config: &Config) -> Vec<ModelDto> {
    let models = config.models.values().map(|m| ModelDto {
        name: m.name.clone(),
        kind: ModelKind::Model,
        read_only: true,
        active: true,
        error: None,
        definition: json!({
            "target": format!("{}/{}", m.provider, m.model),
            "params": m.params,
            "context_window": m.context_window,
            "description": m.description,
        }),
        created_at: None,
        updated_at: None,
    });
    let combos = config.combos.values().map(|c| ModelDto {
        name: c.name.clone(),
        kind: ModelKind::Combo,
        read_only: true,
        active: true,
        error: None,
        definition: json!({
            "strategy": c.strategy.as_str(),
            "targets": c.targets.iter().map(|t| format!("{}/{}", t.provider, t.model)).collect::<Vec<_>>(),
            "max_attempts": c.max_attempts,
            "description": c.description,
        }),
        created_at: None,
        updated_at: None,
    });
    models.chain(combos).collect()
}

fn is_declared(config: &Config, name: &str) -> bool {
    config.models.contains_key(name) || config.combos.contains_key(name)
}

/// A stored entry as listed: whether routing uses it, and if not, why.
fn stored_dto(state: &AppState, m: VirtualModel) -> ModelDto {
    let config = state.config();
    let active = config.models.contains_key(&m.name) || config.combos.contains_key(&m.name);
    let error = (!active).then(|| {
        state
            .skipped_routing()
            .iter()
            .find(|s| matches!(s.kind, "model" | "combo") && s.name == m.name)
            .map_or_else(|| "not applied yet".to_owned(), |s| s.reason.clone())
    });
    ModelDto {
        active,
        error,
        ..ModelDto::from(m)
    }
}

/// Checks a definition with the config file's own parser.
fn validate_definition(name: &str, kind: ModelKind, definition: &Value) -> Result<(), AdminError> {
    let table = match kind {
        ModelKind::Model => "models",
        ModelKind::Combo => "combos",
    };
    let raw: RawConfig = serde_json::from_value(json!({ table: { name: definition } }))
        .map_err(|err| AdminError::bad_request("invalid_model", format!("definition: {err}")))?;
    let empty = match kind {
        ModelKind::Model => raw.models.values().any(|m| m.target.trim().is_empty()),
        ModelKind::Combo => raw.combos.values().any(|c| c.targets.is_empty()),
    };
    if empty {
        return Err(AdminError::bad_request(
            "invalid_model",
            "definition: a model needs a `target`, a combo at least one of `targets`",
        ));
    }
    Ok(())
}

/// Every virtual model and combo: the config file's first, then the stored ones.
#[utoipa::path(get, operation_id = "list_models", path = "/models", tag = "models",
    responses((status = 200, body = ModelList), (status = 401, body = ErrorBody)))]
pub async fn list_models(State(state): State<AppState>) -> Result<Json<ModelList>, AdminError> {
    let stored = extract::store(&state)?.list_virtual_models(None).await?;
    let mut items = declared(state.base_config());
    items.extend(stored.into_iter().map(|m| stored_dto(&state, m)));
    Ok(Json(ModelList { items }))
}

/// Creates or replaces a stored virtual model or combo.
#[utoipa::path(post, operation_id = "put_model", path = "/models", tag = "models", request_body = PutModelRequest,
    responses((status = 201, body = ModelDto), (status = 400, body = ErrorBody),
        (status = 409, description = "declared in the config file", body = ErrorBody)))]
pub async fn put_model(
    State(state): State<AppState>,
    Body(req): Body<PutModelRequest>,
) -> Result<(StatusCode, Json<ModelDto>), AdminError> {
    if is_declared(state.base_config(), &req.name) {
        return Err(AdminError::conflict(
            "read_only",
            format!(
                "{} is declared in the configuration and is read-only here",
                req.name
            ),
        ));
    }
    validate_definition(&req.name, req.kind, &req.definition)?;
    let kind = match req.kind {
        ModelKind::Model => VirtualKind::Model,
        ModelKind::Combo => VirtualKind::Combo,
    };
    let stored = extract::store(&state)?
        .put_virtual_model(&req.name, kind, &req.definition)
        .await?;
    apply_routing(&state).await?;
    Ok((StatusCode::CREATED, Json(stored_dto(&state, stored))))
}

/// One virtual model or combo, declared or stored.
#[utoipa::path(get, operation_id = "get_model", path = "/models/{name}", tag = "models", params(("name" = String, Path)),
    responses((status = 200, body = ModelDto), (status = 404, body = ErrorBody)))]
pub async fn get_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ModelDto>, AdminError> {
    let store = extract::store(&state)?;
    if let Some(m) = declared(state.base_config())
        .into_iter()
        .find(|m| m.name == name)
    {
        return Ok(Json(m));
    }
    let m = store
        .get_virtual_model(&name)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("model {name} not found")))?;
    Ok(Json(stored_dto(&state, m)))
}

/// Deletes a stored virtual model or combo.
#[utoipa::path(delete, operation_id = "delete_model", path = "/models/{name}", tag = "models", params(("name" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody),
        (status = 409, description = "declared in the config file", body = ErrorBody)))]
pub async fn delete_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Deleted>, AdminError> {
    let store = extract::store(&state)?;
    if is_declared(state.base_config(), &name) {
        return Err(AdminError::conflict(
            "read_only",
            format!("{name} is declared in the configuration and is read-only here"),
        ));
    }
    if !store.delete_virtual_model(&name).await? {
        return Err(AdminError::not_found(format!("model {name} not found")));
    }
    apply_routing(&state).await?;
    Ok(Json(Deleted::YES))
}

/// Every price override, by provider then model.
#[utoipa::path(get, operation_id = "list_prices", path = "/prices", tag = "prices",
    responses((status = 200, body = PriceList), (status = 401, body = ErrorBody)))]
pub async fn list_prices(State(state): State<AppState>) -> Result<Json<PriceList>, AdminError> {
    let prices = extract::store(&state)?.list_prices().await?;
    Ok(Json(PriceList {
        items: prices.into_iter().map(Into::into).collect(),
    }))
}

/// Creates or replaces the price override of one provider model.
#[utoipa::path(put, operation_id = "put_price", path = "/prices", tag = "prices", request_body = PriceDto,
    responses((status = 200, body = PriceDto), (status = 400, body = ErrorBody)))]
pub async fn put_price(
    State(state): State<AppState>,
    Body(req): Body<PriceDto>,
) -> Result<Json<PriceDto>, AdminError> {
    let price = ModelPrice {
        provider: req.provider,
        model: req.model,
        input_per_mtok: req.input_per_mtok_micros,
        output_per_mtok: req.output_per_mtok_micros,
        cache_read_per_mtok: req.cache_read_per_mtok_micros,
        cache_write_per_mtok: req.cache_write_per_mtok_micros,
        updated_at: 0,
    };
    let stored = extract::store(&state)?.put_price(&price).await?;
    apply_routing(&state).await?;
    Ok(Json(stored.into()))
}

/// Deletes a price override (the catalog's price applies again).
#[utoipa::path(delete, operation_id = "delete_price", path = "/prices/{provider}/{model}", tag = "prices",
    params(("provider" = String, Path), ("model" = String, Path, description = "may contain `/`")),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn delete_price(
    State(state): State<AppState>,
    Path((provider, model)): Path<(String, String)>,
) -> Result<Json<Deleted>, AdminError> {
    if !extract::store(&state)?
        .delete_price(&provider, &model)
        .await?
    {
        return Err(AdminError::not_found(format!(
            "no price for {provider}/{model}"
        )));
    }
    apply_routing(&state).await?;
    Ok(Json(Deleted::YES))
}
