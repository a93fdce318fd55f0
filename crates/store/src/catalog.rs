//! Virtual models, combos and model prices created at run time.
//!
//! Virtual models and combos share one table (and so one namespace: a name resolves to
//! one or the other); the definition is JSON the gateway's config types parse. Prices are
//! per provider and upstream model, in micro-dollars per million tokens, and override the
//! built-in catalog's.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::types::Json;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::types::{MAX_AMOUNT, Micros, Millis, now_millis, text_enum};

/// Which kind of name a [`VirtualModel`] defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VirtualKind {
    Model,
    Combo,
}

text_enum!(VirtualKind, "virtual model kind", { Model => "model", Combo => "combo" });

/// A virtual model or combo created at run time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VirtualModel {
    pub name: String,
    pub kind: VirtualKind,
    pub definition: serde_json::Value,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(sqlx::FromRow)]
struct VirtualRow {
    name: String,
    kind: String,
    definition: Json<serde_json::Value>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<VirtualRow> for VirtualModel {
    type Error = StoreError;
    fn try_from(r: VirtualRow) -> Result<Self> {
        Ok(Self {
            name: r.name,
            kind: VirtualKind::from_str(&r.kind)?,
            definition: r.definition.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A model's price override, in micro-dollars per million tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ModelPrice {
    pub provider: String,
    pub model: String,
    pub input_per_mtok: Micros,
    pub output_per_mtok: Micros,
    pub cache_read_per_mtok: Micros,
    pub cache_write_per_mtok: Micros,
    /// Set by the store on write.
    #[serde(default)]
    pub updated_at: Millis,
}

macro_rules! virtual_columns {
    () => {
        "name, kind, definition, created_at, updated_at"
    };
}

macro_rules! price_columns {
    () => {
        "provider, model, input_per_mtok, output_per_mtok, cache_read_per_mtok, \
         cache_write_per_mtok, updated_at"
    };
}

impl Store {
    /// Creates or replaces a virtual model or combo.
    pub async fn put_virtual_model(
        &self,
        name: &str,
        kind: VirtualKind,
        definition: &serde_json::Value,
    ) -> Result<VirtualModel> {
        if name.trim().is_empty() || name.trim() != name {
            return Err(StoreError::invalid(
                "name",
                "must be non-empty without surrounding spaces",
            ));
        }
        let row: VirtualRow = on_pool!(self, pool => sqlx::query_as(concat!(
            "INSERT INTO virtual_models (name, kind, definition, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, \
             definition = excluded.definition, updated_at = excluded.updated_at \
             RETURNING ", virtual_columns!()
        ))
        .bind(name)
        .bind(kind.as_str())
        .bind(Json(definition))
        .bind(now_millis())
        .fetch_one(pool)
        .await)?;
        row.try_into()
    }

    pub async fn get_virtual_model(&self, name: &str) -> Result<Option<VirtualModel>> {
        let row: Option<VirtualRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", virtual_columns!(), " FROM virtual_models WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(pool)
        .await)?;
        row.map(VirtualModel::try_from).transpose()
    }

    /// All virtual models and combos (or one kind), by name.
    pub async fn list_virtual_models(
        &self,
        kind: Option<VirtualKind>,
    ) -> Result<Vec<VirtualModel>> {
        let rows: Vec<VirtualRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", virtual_columns!(), " FROM virtual_models WHERE ($1 IS NULL OR kind = $1) ORDER BY name"
        ))
        .bind(kind.map(VirtualKind::as_str))
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(VirtualModel::try_from).collect()
    }

    pub async fn delete_virtual_model(&self, name: &str) -> Result<bool> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM virtual_models WHERE name = $1")
            .bind(name)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Creates or replaces a price; `updated_at` is set to now.
    pub async fn put_price(&self, price: &ModelPrice) -> Result<ModelPrice> {
        let prices = [
            price.input_per_mtok,
            price.output_per_mtok,
            price.cache_read_per_mtok,
            price.cache_write_per_mtok,
        ];
        if prices.iter().any(|p| !(0..=MAX_AMOUNT).contains(p)) {
            return Err(StoreError::invalid(
                "price",
                "must be between 0 and 10^15 micros",
            ));
        }
        if price.provider.is_empty() || price.model.is_empty() {
            return Err(StoreError::invalid(
                "price",
                "provider and model are required",
            ));
        }
        let row = on_pool!(self, pool => sqlx::query_as(concat!(
            "INSERT INTO model_prices (", price_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (provider, model) DO UPDATE SET input_per_mtok = excluded.input_per_mtok, \
             output_per_mtok = excluded.output_per_mtok, cache_read_per_mtok = excluded.cache_read_per_mtok, \
             cache_write_per_mtok = excluded.cache_write_per_mtok, updated_at = excluded.updated_at \
             RETURNING ", price_columns!()
        ))
        .bind(price.provider.as_str())
        .bind(price.model.as_str())
        .bind(price.input_per_mtok)
        .bind(price.output_per_mtok)
        .bind(price.cache_read_per_mtok)
        .bind(price.cache_write_per_mtok)
        .bind(now_millis())
        .fetch_one(pool)
        .await)?;
        Ok(row)
    }

    pub async fn get_price(&self, provider: &str, model: &str) -> Result<Option<ModelPrice>> {
        let row = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", price_columns!(), " FROM model_prices WHERE provider = $1 AND model = $2"
        ))
        .bind(provider)
        .bind(model)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    /// All price overrides, by provider then model.
    pub async fn list_prices(&self) -> Result<Vec<ModelPrice>> {
        let rows = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", price_columns!(), " FROM model_prices ORDER BY provider, model"
        ))
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    pub async fn delete_price(&self, provider: &str, model: &str) -> Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(
            "DELETE FROM model_prices WHERE provider = $1 AND model = $2"
        )
        .bind(provider)
        .bind(model)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }
}
