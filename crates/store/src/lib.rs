//! Persistence for Switchboard: one [`Store`] handle over SQLite (the embedded default) or
//! PostgreSQL (for several instances), chosen at run time from the database URL.
//!
//! Modules, one concern each:
//!
//! - [`db`]: connecting, pool settings, embedded migrations (`migrations/sqlite`,
//!   `migrations/postgres`), and why the backend is an enum of two pools rather than `AnyPool`.
//! - [`users`], [`keys`]: who may call the gateway, with optional limits and budgets.
//! - [`balances`]: cash and credit, changed only by single atomic SQL statements, each
//!   written to the `balance_ledger` audit trail in the same transaction.
//! - [`providers`]: providers and upstream credentials created at run time; credentials are
//!   sealed with [`SecretBox`] (AES-256-GCM) before they reach the database.
//! - [`catalog`]: virtual models, combos and model prices created at run time.
//! - [`usage`]: usage records written in batches, with hourly rollups kept in the same
//!   transaction; [`analytics`] answers totals and time series from the rollups only.
//! - [`logs`]: optional request/response bodies, with retention.
//! - [`secrets`]: the secret key (environment or key file), AES-GCM sealing, API key hashing,
//!   and [`Secret`], a wrapper that never prints its contents.
//!
//! Conventions shared by every table: money is [`Micros`] (signed integer micro-dollars),
//! times are [`Millis`] (UTC unix milliseconds in a 64-bit integer column on both backends),
//! ids are UUIDv7 (native `UUID` on PostgreSQL, a 16-byte `BLOB` on SQLite).

#[macro_use]
mod db;

pub mod analytics;
pub mod balances;
pub mod catalog;
mod error;
pub mod keys;
pub mod logs;
pub mod providers;
pub mod secrets;
pub mod settings;
mod types;
pub mod usage;
pub mod users;

pub use analytics::{Granularity, UsageDimension, UsageGroup, UsagePoint, UsageQuery, UsageTotals};
pub use balances::{Audit, Balance, LedgerEntry, LedgerKind};
pub use catalog::{ModelPrice, VirtualKind, VirtualModel};
pub use db::{BackendKind, Store, StoreOptions};
pub use error::{Result, StoreError};
pub use keys::{ApiKey, KeyFilter, KeyHash, KeyUpdate, NewApiKey};
pub use logs::RequestLog;
pub use providers::{Credential, SealedCredential, StoredProvider};
pub use secrets::{
    GeneratedKey, KeyOrigin, KeySources, Secret, SecretBox, SecretKey, rotate_key_file,
};
pub use types::{BudgetPeriod, Limits, Micros, Millis, Page, Role, now_millis};
pub use usage::UsageRecord;
pub use users::{NewUser, User, UserFilter, UserUpdate};
