//! Gateway API keys: stored only as a keyed hash plus a visible prefix.
//!
//! The caller computes the hash ([`crate::SecretBox::key_hash`]) and looks keys up by it;
//! the plaintext never reaches this module. Keys are loaded into the gateway's in-memory
//! snapshot, so `find_key_by_hash` is for cold paths and tests, and `touch_keys` records
//! `last_used_at` for many keys in one statement from a periodic flush.

use serde::Serialize;
use sqlx::QueryBuilder;
use sqlx::types::Json;
use uuid::Uuid;

use crate::Store;
use crate::error::{Result, StoreError, on_foreign_key, on_unique};
use crate::types::{Limits, LimitsRow, Millis, Page, bind_limits, now_millis};

/// HMAC-SHA-256 of a key's plaintext.
pub type KeyHash = [u8; 32];

macro_rules! key_columns {
    () => {
        "id, user_id, name, prefix, hash, expires_at, allowed_models, limit_rpm, limit_tpm, \
         limit_concurrent, budget_micros, budget_period, created_at, revoked_at, last_used_at"
    };
}

/// An API key as stored. Serializing it leaves the hash out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The first characters of the key (`sk-sb-AbC1`), shown so people can tell keys apart.
    pub prefix: String,
    #[serde(skip)]
    pub hash: KeyHash,
    pub expires_at: Option<Millis>,
    /// Model names or wildcards (`gpt-4o*`, `groq/*`) this key may call; empty = any model.
    pub allowed_models: Vec<String>,
    pub limits: Limits,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
}

impl ApiKey {
    /// Not revoked and not expired at `now`.
    pub fn is_active(&self, now: Millis) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// What it takes to create a key; `hash` and `prefix` come from the caller.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub hash: KeyHash,
    pub expires_at: Option<Millis>,
    pub allowed_models: Vec<String>,
    pub limits: Limits,
}

/// A partial update: `None` leaves a field as it is; `expires_at: Some(None)` removes the
/// expiry; `limits: Some(..)` replaces all five limits.
#[derive(Clone, Debug, Default)]
pub struct KeyUpdate {
    pub name: Option<String>,
    pub expires_at: Option<Option<Millis>>,
    pub allowed_models: Option<Vec<String>>,
    pub limits: Option<Limits>,
}

/// Filters for listing keys.
#[derive(Clone, Debug, Default)]
pub struct KeyFilter {
    pub user_id: Option<Uuid>,
    pub include_revoked: bool,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    user_id: Uuid,
    name: String,
    prefix: String,
    hash: Vec<u8>,
    expires_at: Option<i64>,
    allowed_models: Json<Vec<String>>,
    #[sqlx(flatten)]
    limits: LimitsRow,
    created_at: i64,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(r: KeyRow) -> Result<Self> {
        let hash = KeyHash::try_from(r.hash.as_slice()).map_err(|_| {
            StoreError::corrupt(
                "api key hash",
                format!("{} bytes, expected 32", r.hash.len()),
            )
        })?;
        Ok(Self {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            prefix: r.prefix,
            hash,
            expires_at: r.expires_at,
            allowed_models: r.allowed_models.0,
            limits: r.limits.try_into()?,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        })
    }
}

fn validate_models(models: &[String]) -> Result<()> {
    if models.iter().any(|m| m.trim().is_empty()) {
        return Err(StoreError::invalid(
            "allowed_models",
            "names must not be empty",
        ));
    }
    Ok(())
}

impl Store {
    /// Stores a new key in one statement. `Conflict` if the hash is already taken;
    /// `NotFound` if the user does not exist (the foreign key says so).
    pub async fn create_key(&self, new: &NewApiKey) -> Result<ApiKey> {
        if new.name.trim().is_empty() {
            return Err(StoreError::invalid("name", "must not be empty"));
        }
        validate_models(&new.allowed_models)?;
        new.limits.validate()?;
        let limits = LimitsRow::from(&new.limits);
        let row: KeyRow = on_pool!(self, pool => bind_limits!(sqlx::query_as(concat!(
            "INSERT INTO api_keys (id, user_id, name, prefix, hash, expires_at, allowed_models, \
             limit_rpm, limit_tpm, limit_concurrent, budget_micros, budget_period, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ",
            key_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(new.user_id)
        .bind(new.name.trim())
        .bind(new.prefix.as_str())
        .bind(new.hash.to_vec())
        .bind(new.expires_at)
        .bind(Json(new.allowed_models.clone())), limits)
        .bind(now_millis())
        .fetch_one(pool)
        .await)
        .map_err(on_unique("api key", "hash already in use"))
        .map_err(on_foreign_key("user", new.user_id))?;
        row.try_into()
    }

    /// The key with this id, revoked or not.
    pub async fn get_key(&self, id: Uuid) -> Result<Option<ApiKey>> {
        let row: Option<KeyRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", key_columns!(), " FROM api_keys WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        row.map(ApiKey::try_from).transpose()
    }

    /// The key whose hash this is, revoked or not: check [`ApiKey::is_active`].
    pub async fn find_key_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKey>> {
        let row: Option<KeyRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", key_columns!(), " FROM api_keys WHERE hash = $1"
        ))
        .bind(hash.to_vec())
        .fetch_optional(pool)
        .await)?;
        row.map(ApiKey::try_from).transpose()
    }

    /// Keys matching `filter`, oldest first.
    pub async fn list_keys(&self, filter: &KeyFilter, page: Page) -> Result<Vec<ApiKey>> {
        let rows: Vec<KeyRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", key_columns!(), " FROM api_keys \
             WHERE ($1 IS NULL OR user_id = $1) AND ($2 OR revoked_at IS NULL) \
             ORDER BY created_at, id LIMIT $3 OFFSET $4"
        ))
        .bind(filter.user_id)
        .bind(filter.include_revoked)
        .bind(page.sql_limit())
        .bind(page.sql_offset())
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(ApiKey::try_from).collect()
    }

    /// Every key usable at `now` (not revoked, not expired), for the in-memory snapshot.
    pub async fn list_active_keys(&self, now: Millis) -> Result<Vec<ApiKey>> {
        let rows: Vec<KeyRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", key_columns!(), " FROM api_keys \
             WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1) \
             ORDER BY created_at, id"
        ))
        .bind(now)
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(ApiKey::try_from).collect()
    }

    /// Applies a partial update and returns the updated key.
    pub async fn update_key(&self, id: Uuid, update: &KeyUpdate) -> Result<ApiKey> {
        if update.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(StoreError::invalid("name", "must not be empty"));
        }
        if let Some(models) = &update.allowed_models {
            validate_models(models)?;
        }
        if let Some(limits) = &update.limits {
            limits.validate()?;
        }
        let set_limits = update.limits.is_some();
        let limits = update
            .limits
            .as_ref()
            .map(LimitsRow::from)
            .unwrap_or_default();
        let row: Option<KeyRow> = on_pool!(self, pool => bind_limits!(sqlx::query_as(concat!(
            "UPDATE api_keys SET \
               name = COALESCE($2, name), \
               expires_at = CASE WHEN $3 THEN $4 ELSE expires_at END, \
               allowed_models = COALESCE($5, allowed_models), \
               limit_rpm = CASE WHEN $6 THEN $7 ELSE limit_rpm END, \
               limit_tpm = CASE WHEN $6 THEN $8 ELSE limit_tpm END, \
               limit_concurrent = CASE WHEN $6 THEN $9 ELSE limit_concurrent END, \
               budget_micros = CASE WHEN $6 THEN $10 ELSE budget_micros END, \
               budget_period = CASE WHEN $6 THEN $11 ELSE budget_period END \
             WHERE id = $1 RETURNING ",
            key_columns!()
        ))
        .bind(id)
        .bind(update.name.as_deref().map(str::trim))
        .bind(update.expires_at.is_some())
        .bind(update.expires_at.flatten())
        .bind(update.allowed_models.clone().map(Json))
        .bind(set_limits), limits)
        .fetch_optional(pool)
        .await)?;
        row.ok_or_else(|| StoreError::not_found("api key", id))?
            .try_into()
    }

    /// Revokes a key at `at`. Returns `false` if it was already revoked (the first
    /// revocation time is kept); `NotFound` if there is no such key.
    pub async fn revoke_key(&self, id: Uuid, at: Millis) -> Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(
            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
        )
        .bind(id)
        .bind(at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        if done > 0 {
            return Ok(true);
        }
        match self.get_key(id).await? {
            Some(_) => Ok(false),
            None => Err(StoreError::not_found("api key", id)),
        }
    }

    /// Deletes a key outright (its usage records stay). Returns whether one was deleted.
    pub async fn delete_key(&self, id: Uuid) -> Result<bool> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM api_keys WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Sets `last_used_at = at` on each key whose recorded use is older, in one statement
    /// per 500 ids: the gateway collects ids in memory and flushes them periodically.
    pub async fn touch_keys(&self, ids: &[Uuid], at: Millis) -> Result<u64> {
        let mut touched = 0;
        for chunk in ids.chunks(500) {
            touched += on_pool!(self, pool, Db => {
                let mut qb = QueryBuilder::<Db>::new("UPDATE api_keys SET last_used_at = ");
                qb.push_bind(at);
                qb.push(" WHERE (last_used_at IS NULL OR last_used_at < ");
                qb.push_bind(at);
                qb.push(") AND id IN (");
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                qb.push(")");
                qb.build().execute(pool).await.map(|r| r.rows_affected())
            })?;
        }
        Ok(touched)
    }
}
