//! Providers and upstream credentials created at run time (beside the read-only ones from
//! the config file).
//!
//! A provider is an id and a JSON config the gateway interprets. Credentials are sealed
//! with a [`SecretBox`] before they are written; the database only ever holds ciphertext
//! and nonce. A `provider_id` may name a config-file provider too (adding a second key to
//! `groq` from the admin API), so credentials carry no foreign key.

use serde::Serialize;
use sqlx::types::Json;
use uuid::Uuid;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::secrets::{Sealed, Secret, SecretBox};
use crate::types::{Millis, now_millis};

/// A provider created at run time.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct StoredProvider {
    pub id: String,
    #[sqlx(json)]
    pub config: serde_json::Value,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A credential's metadata; the secret is fetched separately and only on purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Credential {
    pub id: Uuid,
    pub provider_id: String,
    pub label: String,
    pub created_at: Millis,
}

/// A credential as stored: useful to check that nothing readable sits in the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedCredential {
    pub id: Uuid,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct SealedRow {
    id: Uuid,
    provider_id: String,
    label: String,
    created_at: i64,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl SealedRow {
    fn sealed(&self) -> Result<Sealed> {
        let nonce = self.nonce.as_slice().try_into().map_err(|_| {
            StoreError::corrupt(
                "credential nonce",
                format!("{} bytes, expected 12", self.nonce.len()),
            )
        })?;
        Ok(Sealed {
            nonce,
            ciphertext: self.ciphertext.clone(),
        })
    }

    fn open(self, secrets: &SecretBox) -> Result<(Credential, Secret<String>)> {
        let secret = secrets.open_credential(self.id, &self.sealed()?)?;
        let credential = Credential {
            id: self.id,
            provider_id: self.provider_id,
            label: self.label,
            created_at: self.created_at,
        };
        Ok((credential, secret))
    }
}

macro_rules! select_sealed {
    () => {
        "SELECT id, provider_id, label, created_at, nonce, ciphertext FROM credentials"
    };
}

fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err(StoreError::invalid(
            "provider id",
            "1–64 characters from [A-Za-z0-9._-]",
        ));
    }
    Ok(())
}

impl Store {
    /// Creates or replaces a provider's config.
    pub async fn put_provider(
        &self,
        id: &str,
        config: &serde_json::Value,
    ) -> Result<StoredProvider> {
        check_id(id)?;
        let now = now_millis();
        let row = on_pool!(self, pool => sqlx::query_as(
            "INSERT INTO providers (id, config, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at \
             RETURNING id, config, created_at, updated_at"
        )
        .bind(id)
        .bind(Json(config))
        .bind(now)
        .fetch_one(pool)
        .await)?;
        Ok(row)
    }

    pub async fn get_provider(&self, id: &str) -> Result<Option<StoredProvider>> {
        let row = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, config, created_at, updated_at FROM providers WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    /// All run-time providers, by id.
    pub async fn list_providers(&self) -> Result<Vec<StoredProvider>> {
        let rows = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, config, created_at, updated_at FROM providers ORDER BY id"
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// Deletes a provider and its credentials in one transaction. Returns whether the
    /// provider existed.
    pub async fn delete_provider(&self, id: &str) -> Result<bool> {
        let deleted = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM credentials WHERE provider_id = $1").bind(id).execute(&mut *tx).await?;
            let done = sqlx::query("DELETE FROM providers WHERE id = $1").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
            done.rows_affected()
        });
        Ok(deleted > 0)
    }

    /// Seals `secret` and stores it as a credential of `provider_id`.
    pub async fn add_credential(
        &self,
        secrets: &SecretBox,
        provider_id: &str,
        label: &str,
        secret: &Secret<String>,
    ) -> Result<Credential> {
        check_id(provider_id)?;
        let id = Uuid::now_v7();
        let sealed = secrets.seal_credential(id, secret)?;
        let row = on_pool!(self, pool => sqlx::query_as(
            "INSERT INTO credentials (id, provider_id, label, ciphertext, nonce, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, provider_id, label, created_at"
        )
        .bind(id)
        .bind(provider_id)
        .bind(label)
        .bind(sealed.ciphertext.clone())
        .bind(sealed.nonce.to_vec())
        .bind(now_millis())
        .fetch_one(pool)
        .await)?;
        Ok(row)
    }

    /// Credential metadata (no secrets), for one provider or all, oldest first.
    pub async fn list_credentials(&self, provider_id: Option<&str>) -> Result<Vec<Credential>> {
        let rows = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, provider_id, label, created_at FROM credentials \
             WHERE ($1 IS NULL OR provider_id = $1) ORDER BY provider_id, created_at, id"
        )
        .bind(provider_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// Decrypts one credential's secret.
    pub async fn reveal_credential(&self, secrets: &SecretBox, id: Uuid) -> Result<Secret<String>> {
        let row: Option<SealedRow> = on_pool!(self, pool => sqlx::query_as(
            concat!(select_sealed!(), " WHERE id = $1")
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        let row = row.ok_or_else(|| StoreError::not_found("credential", id))?;
        Ok(row.open(secrets)?.1)
    }

    /// Every credential (of one provider, or all) with its decrypted secret, for building
    /// the gateway's in-memory credential pools.
    pub async fn load_credentials(
        &self,
        secrets: &SecretBox,
        provider_id: Option<&str>,
    ) -> Result<Vec<(Credential, Secret<String>)>> {
        let rows: Vec<SealedRow> = on_pool!(self, pool => sqlx::query_as(
            concat!(select_sealed!(), " WHERE ($1 IS NULL OR provider_id = $1) ORDER BY provider_id, created_at, id")
        )
        .bind(provider_id)
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(|row| row.open(secrets)).collect()
    }

    /// The stored (encrypted) form of a credential.
    pub async fn sealed_credential(&self, id: Uuid) -> Result<SealedCredential> {
        let row: Option<SealedRow> = on_pool!(self, pool => sqlx::query_as(
            concat!(select_sealed!(), " WHERE id = $1")
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        let row = row.ok_or_else(|| StoreError::not_found("credential", id))?;
        Ok(SealedCredential {
            id: row.id,
            nonce: row.nonce,
            ciphertext: row.ciphertext,
        })
    }

    /// Deletes a credential. Returns whether it existed.
    pub async fn delete_credential(&self, id: Uuid) -> Result<bool> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM credentials WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Re-encrypts every credential from `old` to `new` in one transaction: either all are
    /// re-encrypted or (any fails to decrypt with `old`) none. Writers are locked out for
    /// the duration (`BEGIN IMMEDIATE` on SQLite, `LOCK TABLE … EXCLUSIVE` on PostgreSQL) so
    /// no credential sealed with the old key can slip in. Returns the count.
    pub async fn rotate_secret_key(&self, old: &SecretBox, new: &SecretBox) -> Result<u64> {
        let postgres = self.kind() == crate::BackendKind::Postgres;
        on_pool!(self, pool => {
            let mut tx = if postgres { pool.begin().await? } else { pool.begin_with("BEGIN IMMEDIATE").await? };
            if postgres {
                sqlx::query("LOCK TABLE credentials IN EXCLUSIVE MODE").execute(&mut *tx).await?;
            }
            let rows: Vec<SealedRow> = sqlx::query_as(select_sealed!()).fetch_all(&mut *tx).await?;
            let mut count = 0;
            for row in rows {
                let secret = old.open_credential(row.id, &row.sealed()?)?;
                let sealed = new.seal_credential(row.id, &secret)?;
                sqlx::query("UPDATE credentials SET ciphertext = $1, nonce = $2 WHERE id = $3")
                    .bind(sealed.ciphertext)
                    .bind(sealed.nonce.to_vec())
                    .bind(row.id)
                    .execute(&mut *tx)
                    .await?;
                count += 1;
            }
            tx.commit().await?;
            Ok(count)
        })
    }
}
