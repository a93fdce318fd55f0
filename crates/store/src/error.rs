//! Store errors: what went wrong talking to the database or handling secrets at rest.
//!
//! None of these messages carries a secret: URLs are reduced to their scheme, credentials
//! and key material never appear.

use std::path::PathBuf;

use uuid::Uuid;

use crate::types::Micros;

/// Result with [`StoreError`] as the default error.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL scheme {scheme:?}: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl { scheme: String },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    #[error("{entity} conflict: {detail}")]
    Conflict {
        entity: &'static str,
        detail: &'static str,
    },
    #[error("user {user_id}: insufficient funds for {requested} micros")]
    InsufficientFunds { user_id: Uuid, requested: Micros },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt { what: &'static str, reason: String },
    #[error("secret key: {0}")]
    SecretKey(String),
    #[error("credential {0} could not be decrypted: wrong secret key or tampered data")]
    Decrypt(Uuid),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StoreError {
    /// A low-cardinality label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::UnsupportedUrl { .. } => "unsupported_url",
            Self::Database(_) => "database",
            Self::Migrate(_) => "migrate",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::Invalid { .. } => "invalid",
            Self::Corrupt { .. } => "corrupt",
            Self::SecretKey(_) => "secret_key",
            Self::Decrypt(_) => "decrypt",
            Self::Io { .. } => "io",
        }
    }

    pub(crate) fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupt(what: &'static str, reason: impl ToString) -> Self {
        Self::Corrupt {
            what,
            reason: reason.to_string(),
        }
    }
}

/// Maps a foreign-key violation to [`StoreError::NotFound`] for the referenced row.
pub(crate) fn on_foreign_key(
    entity: &'static str,
    id: impl ToString,
) -> impl FnOnce(StoreError) -> StoreError {
    move |err| match &err {
        StoreError::Database(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
            StoreError::not_found(entity, id)
        }
        _ => err,
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`], anything else as is.
pub(crate) fn on_unique(
    entity: &'static str,
    detail: &'static str,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict { entity, detail }
        }
        _ => StoreError::Database(err),
    }
}
