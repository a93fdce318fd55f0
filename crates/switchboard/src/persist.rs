//! The services around the request path, built from the environment: the data directory, the
//! database (SQLite there by default, or `SWITCHBOARD_DATABASE_URL`), the secret box, gateway
//! keys, the limiter (Redis with `SWITCHBOARD_REDIS_URL`) and the usage writer.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use gateway::auth::keys::KeyRegistry;
use gateway::limits::Limiter;
use gateway::state::Services;
use gateway::usage::{StoreSink, UsageWriter, WriterConfig, WriterTask};
use store::{KeyOrigin, KeySources, SecretBox, Store};
use tokio_util::task::TaskTracker;

/// `SWITCHBOARD_DATA_DIR`, else `~/.switchboard`.
pub fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("SWITCHBOARD_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| {
            std::env::var_os("HOME").map_or_else(
                || PathBuf::from(".switchboard"),
                |h| PathBuf::from(h).join(".switchboard"),
            )
        })
}

/// Opens and migrates the database.
pub async fn open_store(data_dir: &std::path::Path) -> anyhow::Result<Store> {
    let store = match std::env::var("SWITCHBOARD_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(url) => Store::connect(&url)
            .await
            .context("connecting to SWITCHBOARD_DATABASE_URL")?,
        None => Store::open_default(data_dir)
            .await
            .with_context(|| format!("opening the database in {}", data_dir.display()))?,
    };
    store
        .migrate()
        .await
        .context("applying database migrations")?;
    Ok(store)
}

/// The secret box: `SWITCHBOARD_SECRET_KEY`, else the key file in the data directory
/// (generated on first start, mode 0600).
pub fn secrets(data_dir: &std::path::Path) -> anyhow::Result<SecretBox> {
    let (secrets, origin) =
        SecretBox::load(&KeySources::from_env(data_dir)).context("loading the secret key")?;
    match origin {
        KeyOrigin::Generated(path) => {
            tracing::info!(path = %path.display(), "generated a new secret key file")
        }
        KeyOrigin::KeyFile(path) => tracing::debug!(path = %path.display(), "secret key from file"),
        KeyOrigin::Environment => tracing::debug!("secret key from SWITCHBOARD_SECRET_KEY"),
    }
    Ok(secrets)
}

/// Everything `serve` runs with, and what must be stopped in order at the end.
pub struct Running {
    pub services: Services,
    pub writer: WriterTask,
}

pub async fn start(data_dir: &std::path::Path) -> anyhow::Result<Running> {
    let store = open_store(data_dir).await?;
    let secrets = secrets(data_dir)?;
    let keys = Arc::new(
        KeyRegistry::load(store.clone(), secrets.clone())
            .await
            .context("loading gateway keys")?,
    );
    let limiter = match std::env::var("SWITCHBOARD_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(url) => Limiter::with_redis(&url, "switchboard")
            .await
            .context("SWITCHBOARD_REDIS_URL")?,
        None => Limiter::memory(),
    };
    limiter
        .load_from_store(&store, &keys.subjects())
        .await
        .context("loading budgets and balances")?;
    let (usage, writer) =
        UsageWriter::start(StoreSink::shared(store.clone()), WriterConfig::default());
    Ok(Running {
        services: Services {
            store: Some(store),
            secrets: Some(secrets),
            keys: Some(keys),
            limiter,
            usage: Some(usage),
            // Started by `serve` when `[request_logs] enabled`.
            request_logs: None,
            tasks: TaskTracker::new(),
        },
        writer,
    })
}
