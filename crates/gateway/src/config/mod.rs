//! Configuration: a TOML file (optional) plus `SWITCHBOARD_…__…` environment overrides, parsed
//! into raw structs (`raw`) and validated once into the runtime [`Config`] (`validate`).
//!
//! Env overrides use the prefix `SWITCHBOARD_` and `__` between levels, e.g.
//! `SWITCHBOARD_SERVER__MAX_BODY_SIZE=8MiB` or `SWITCHBOARD_PROVIDERS__GROQ__BASE_URL=…`.
//!
//! Providers, credentials, models, combos and prices stored at run time are merged into the
//! file's configuration by the same validation ([`overlay`]).

mod combos;
pub mod overlay;
mod raw;
pub mod units;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use crate::providers::Provider;
use crate::relay::idempotency::IdempotencyConfig;
use crate::routing::health::BreakerConfig;
use crate::routing::{Combo, RetryPolicy, Wildcard};
use crate::secret::Secret;

pub use overlay::{Skipped, StoredRouting};
pub use raw::RawConfig;

/// The prefix of every environment override.
pub const ENV_PREFIX: &str = "SWITCHBOARD_";
/// The file looked for in the working directory when no path is given.
pub const DEFAULT_FILE: &str = "switchboard.toml";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8790";

/// Validated configuration: every reference resolved, every secret read.
#[derive(Debug)]
pub struct Config {
    pub server: ServerSettings,
    pub http: HttpSettings,
    pub auth: AuthSettings,
    /// Enabled providers: those declared in the file first, then those detected from env.
    pub providers: Vec<Arc<Provider>>,
    /// Model-name prefix (provider id or alias) → provider id.
    pub prefixes: BTreeMap<String, String>,
    pub models: BTreeMap<String, VirtualModel>,
    pub combos: BTreeMap<String, Arc<Combo>>,
    pub wildcards: Vec<Wildcard>,
    pub breaker: BreakerConfig,
    pub retry: RetryPolicy,
    pub idempotency: IdempotencyConfig,
    pub metrics: MetricsSettings,
    pub usage: UsageSettings,
    pub request_logs: RequestLogSettings,
    pub translation: TranslationSettings,
    /// `None`: model discovery is off.
    pub discovery_ttl: Option<Duration>,
    pub default_context_window: u64,
    /// The file this came from, if any.
    pub source: Option<PathBuf>,
    /// What the file's part was validated from, to merge stored entries in ([`overlay`]).
    pub(crate) layer: Arc<overlay::FileLayer>,
    /// What each provider was built from beyond the file (stored config, credentials,
    /// prices): a provider whose inputs did not change is reused across rebuilds.
    pub(crate) provider_inputs: BTreeMap<String, String>,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// A second address serving only `/metrics`.
    pub listen: Option<SocketAddr>,
}

/// `[usage]`: how long raw usage records are kept (`None`: forever).
#[derive(Debug, Clone)]
pub struct UsageSettings {
    pub retention: Option<Duration>,
}

/// `[translation]`: keep-alives on translated streams and the fetching of image URLs for
/// upstreams that need image bytes.
#[derive(Debug, Clone)]
pub struct TranslationSettings {
    /// `None`: no keep-alives.
    pub keep_alive: Option<Duration>,
    pub images: crate::relay::translate::images::FetchPolicy,
}

/// `[request_logs]`: request and response bodies in the database.
#[derive(Debug, Clone)]
pub struct RequestLogSettings {
    pub enabled: bool,
    pub max_body_bytes: usize,
    /// `None`: kept forever.
    pub retention: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    pub pool_idle_timeout: Duration,
    pub pool_max_idle_per_host: usize,
}

#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    pub keys: Vec<Secret>,
    pub allow_open: bool,
}

/// A name clients may use that stands for one provider model, with default parameters.
#[derive(Debug, Clone)]
pub struct VirtualModel {
    pub name: String,
    pub provider: String,
    pub model: String,
    pub params: serde_json::Map<String, serde_json::Value>,
    pub context_window: Option<u64>,
    pub description: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    NotFound(PathBuf),
    #[error("{0}")]
    Parse(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl ConfigError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    fn from_figment(err: figment::Error) -> Self {
        let lines: Vec<String> = err
            .into_iter()
            .map(|e| {
                let field = e
                    .path
                    .iter()
                    .skip_while(|p| p.as_str() == "default")
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(".");
                let origin = e
                    .metadata
                    .as_ref()
                    .map(|m| match &m.source {
                        Some(src) => format!(" (from {src})"),
                        None => format!(" (from {})", m.name),
                    })
                    .unwrap_or_default();
                if field.is_empty() {
                    format!("{}{origin}", e.kind)
                } else {
                    format!("{field}: {}{origin}", e.kind)
                }
            })
            .collect();
        Self::Parse(lines.join("\n"))
    }
}

impl Config {
    /// Loads the file (the given path, else `./switchboard.toml` when present, else none),
    /// applies env overrides and validates.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match path {
            Some(p) if !p.exists() => return Err(ConfigError::NotFound(p.to_owned())),
            Some(p) => Some(p.to_owned()),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.exists()),
        };
        let mut figment = Figment::new();
        if let Some(f) = &file {
            figment = figment.merge(Toml::file_exact(f));
        }
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        let raw: RawConfig = figment.extract().map_err(ConfigError::from_figment)?;
        validate::validate(raw, &|k| std::env::var(k).ok(), file, true)
    }

    /// Parses a TOML document with an explicit environment (no process env): for tests and
    /// `config check` of a string.
    pub fn from_toml(
        toml_text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw: RawConfig = Figment::from(Toml::string(toml_text))
            .extract()
            .map_err(ConfigError::from_figment)?;
        validate::validate(raw, env, None, false)
    }

    pub fn provider(&self, id: &str) -> Option<&Arc<Provider>> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// Refuses to serve without keys (static, or `stored_keys` in the database) on an address
    /// others can reach, unless opted in.
    pub fn check_exposure(&self, stored_keys: bool) -> Result<(), ConfigError> {
        if self.auth.keys.is_empty()
            && !stored_keys
            && !self.server.listen.ip().is_loopback()
            && !self.auth.allow_open
        {
            return Err(ConfigError::invalid(
                "auth.keys",
                format!(
                    "listening on {} (not loopback) without any gateway key: create one (switchboard admin key create), set auth.keys, or auth.allow_open = true to serve openly",
                    self.server.listen
                ),
            ));
        }
        Ok(())
    }
}
