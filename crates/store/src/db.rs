//! The [`Store`] handle: connecting to SQLite or PostgreSQL, pool settings and migrations.
//!
//! The backend is an enum over the two concrete pools rather than sqlx's `AnyPool`:
//!
//! - the two migration folders differ in types (`UUID`/`JSONB`/`BYTEA`/identity columns on
//!   PostgreSQL, `BLOB`/`TEXT`/rowid on SQLite), and each concrete pool runs its own embedded
//!   `Migrator` with the backend's native locking;
//! - `Any` supports no `Uuid` or JSON types and decodes through a lowest common denominator,
//!   so every id would become a string round-trip;
//! - with concrete pools the same SQL text (`$1` placeholders work on both) is checked against
//!   each backend's native types, and the few statements that must differ can differ.
//!
//! The cost is that each query is compiled twice, once per backend: the `on_pool!` macro
//! expands one body into both match arms.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{Result, StoreError};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Runs one body against whichever pool the store holds. `$pool` is bound to `&SqlitePool`
/// or `&PgPool`; the second form also names the database type (`sqlx::Sqlite` /
/// `sqlx::Postgres`) for code such as `QueryBuilder` that needs it spelled out.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::db::Backend::Sqlite($pool) => $body,
            $crate::db::Backend::Postgres($pool) => $body,
        }
    };
    ($store:expr, $pool:ident, $db:ident => $body:expr) => {
        match &$store.backend {
            $crate::db::Backend::Sqlite($pool) => {
                type $db = ::sqlx::Sqlite;
                $body
            }
            $crate::db::Backend::Postgres($pool) => {
                type $db = ::sqlx::Postgres;
                $body
            }
        }
    };
}

#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// Pool settings. The defaults suit one gateway process.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Pool size; `None` = 8 for SQLite (one writer at a time anyway), 16 for PostgreSQL.
    pub max_connections: Option<u32>,
    /// How long SQLite waits for the write lock before failing with "database is locked".
    pub busy_timeout: Duration,
    /// How long a caller waits for a free pooled connection.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            busy_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// A cheap-to-clone handle on the database. Every operation is an async method, grouped by
/// entity in the modules of this crate.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately not the pool: connect options can carry a password.
        f.debug_struct("Store")
            .field("backend", &self.kind())
            .finish()
    }
}

impl Store {
    /// Connects to `sqlite://PATH` (`sqlite:PATH` works too; the file is created if missing)
    /// or `postgres://…` / `postgresql://…`. Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    /// [`Store::connect`] with explicit pool settings.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Self> {
        if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)?;
            Self::open_sqlite_with(connect, options).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url)?;
            Self::open_postgres(connect, options).await
        } else {
            // Only the scheme: the rest of a URL may hold a password.
            let scheme = url.split(':').next().unwrap_or_default().to_owned();
            Err(StoreError::UnsupportedUrl { scheme })
        }
    }

    /// Opens (creating if missing) the SQLite database file at `path`. Unlike a URL, any
    /// path works, spaces and `?` included.
    pub async fn open_sqlite(path: &Path, options: &StoreOptions) -> Result<Self> {
        Self::open_sqlite_with(SqliteConnectOptions::new().filename(path), options).await
    }

    /// The embedded default: `{data_dir}/switchboard.db`, creating the directory if needed.
    pub async fn open_default(data_dir: &Path) -> Result<Self> {
        tokio::fs::create_dir_all(data_dir)
            .await
            .map_err(|source| StoreError::Io {
                path: data_dir.to_owned(),
                source,
            })?;
        Self::open_sqlite(&data_dir.join("switchboard.db"), &StoreOptions::default()).await
    }

    async fn open_sqlite_with(
        connect: SqliteConnectOptions,
        options: &StoreOptions,
    ) -> Result<Self> {
        let connect = connect
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; an OS crash may
            // lose the last transactions, which the usage writer's contract already allows.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(8))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(Self {
            backend: Backend::Sqlite(pool),
        })
    }

    async fn open_postgres(connect: PgConnectOptions, options: &StoreOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(16))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(Self {
            backend: Backend::Postgres(pool),
        })
    }

    /// Applies the embedded migrations not yet applied. Idempotent; safe to run from several
    /// instances at once (sqlx takes a database lock while migrating).
    pub async fn migrate(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Which backend this store uses.
    pub fn kind(&self) -> BackendKind {
        match &self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// One round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Waits for checked-out connections to return and closes the pool.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}
