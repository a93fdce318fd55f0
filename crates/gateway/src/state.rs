//! Shared server state: the configuration snapshot (swapped atomically), the one upstream HTTP
//! client pool, the services around the request path (keys, limits, usage), and the draining
//! flag read by readiness.
//!
//! The snapshot is the configuration file's (the base, kept as given) merged with the
//! routing entries stored at run time ([`crate::config::overlay`]).
//! [`AppState::reload_routing`] re-reads those entries and swaps the merged snapshot; the
//! request path only ever reads the snapshot.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;

use tokio_util::task::TaskTracker;

use crate::auth::Principal;
use crate::auth::keys::KeyRegistry;
use crate::auth::lockout::Lockout;
use crate::config::overlay::{self, Skipped, StoredRouting};
use crate::config::{Config, ConfigError};
use crate::error::GatewayError;
use crate::limits::Limiter;
use crate::providers::discovery::{self, Discovery};
use crate::relay::idempotency::Idempotency;
use crate::routing::Discovered;
use crate::routing::health::HealthRegistry;
use crate::telemetry::Telemetry;
use crate::telemetry::metrics::AuthFailure;
use crate::usage::UsageHandle;
use crate::usage::request_log::RequestLogHandle;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// Why the routing configuration could not be rebuilt (the previous one stays).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("reading stored routing entries: {0}")]
    Store(#[from] store::StoreError),
    #[error("merging stored routing entries: {0}")]
    Config(#[from] ConfigError),
}

pub struct Inner {
    config: ArcSwap<Config>,
    /// The configuration as given (file + environment): read-only for the admin API, and
    /// what stored entries are merged into.
    base: Arc<Config>,
    /// Serialises rebuilds; holds the fingerprint of the stored entries last merged.
    routing: tokio::sync::Mutex<Option<String>>,
    /// Stored entries the last rebuild left out, and why.
    skipped: ArcSwap<Vec<Skipped>>,
    /// One pool for every upstream: keep-alive per host, HTTP/2 where TLS offers it.
    pub http: reqwest::Client,
    /// Breakers, latency and quota per target; outlives configuration reloads.
    health: HealthRegistry,
    /// Requests sharing an `Idempotency-Key`; outlives configuration reloads.
    idempotency: Idempotency,
    /// Upstream model lists, cached with a TTL.
    discovery: Discovery,
    services: Services,
    /// Metrics and the request log.
    telemetry: Telemetry,
    lockout: Lockout,
    draining: AtomicBool,
}

/// What the request path uses besides configuration: all optional but the limiter, so the
/// gateway runs with no database and no Redis.
#[derive(Clone)]
pub struct Services {
    /// The database, when one is configured (SQLite by default in the binary).
    pub store: Option<store::Store>,
    /// Hashes gateway keys and seals credentials; present with the store.
    pub secrets: Option<store::SecretBox>,
    /// Gateway keys from the store.
    pub keys: Option<Arc<KeyRegistry>>,
    /// Rate limits, concurrency and budgets (in memory, or shared through Redis).
    pub limiter: Limiter,
    /// Where usage records go.
    pub usage: Option<UsageHandle>,
    /// Where request logs go (when `[request_logs] enabled`).
    pub request_logs: Option<RequestLogHandle>,
    /// Background work that must finish before exit (settlements).
    pub tasks: TaskTracker,
}

impl Default for Services {
    fn default() -> Self {
        Self {
            store: None,
            secrets: None,
            keys: None,
            limiter: Limiter::memory(),
            usage: None,
            request_logs: None,
            tasks: TaskTracker::new(),
        }
    }
}

impl AppState {
    pub fn new(config: Config) -> Result<Self, reqwest::Error> {
        Self::with_services(config, Services::default())
    }

    pub fn with_services(config: Config, services: Services) -> Result<Self, reqwest::Error> {
        let config = Arc::new(config);
        let http = reqwest::Client::builder()
            .connect_timeout(config.http.connect_timeout)
            .pool_idle_timeout(config.http.pool_idle_timeout)
            .pool_max_idle_per_host(config.http.pool_max_idle_per_host)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self(Arc::new(Inner {
            health: HealthRegistry::new(config.breaker.clone()),
            idempotency: Idempotency::new(config.idempotency.clone()),
            discovery: Discovery::new(
                config.discovery_ttl.unwrap_or(discovery::DEFAULT_TTL),
                discovery::DEFAULT_FETCH_TIMEOUT,
            ),
            telemetry: Telemetry::new(config.metrics.enabled, services.request_logs.clone()),
            base: Arc::clone(&config),
            config: ArcSwap::new(config),
            routing: tokio::sync::Mutex::new(None),
            skipped: ArcSwap::default(),
            http,
            services,
            lockout: Lockout::default(),
            draining: AtomicBool::new(false),
        })))
    }

    /// The current configuration snapshot; a request keeps the one it started with.
    pub fn config(&self) -> Arc<Config> {
        self.0.config.load_full()
    }

    /// The configuration as given, without stored entries: what is read-only at run time.
    pub fn base_config(&self) -> &Arc<Config> {
        &self.0.base
    }

    /// Stored routing entries the last rebuild left out, and why.
    pub fn skipped_routing(&self) -> Arc<Vec<Skipped>> {
        self.0.skipped.load_full()
    }

    /// Re-reads the stored providers, credentials, models, combos and prices and swaps in
    /// the configuration merged from them, unless they are unchanged since the last time.
    /// Returns whether the snapshot was replaced. Without a store there is nothing to merge.
    pub async fn reload_routing(&self) -> Result<bool, ReloadError> {
        let services = &self.0.services;
        let (Some(store), Some(secrets)) = (&services.store, &services.secrets) else {
            return Ok(false);
        };
        let mut last = self.0.routing.lock().await;
        let stored = StoredRouting::load(store, secrets).await?;
        let fingerprint = stored.fingerprint();
        if last.as_deref() == Some(fingerprint.as_str()) {
            return Ok(false);
        }
        let current = self.config();
        let merged = overlay::merge_stored(&self.0.base, &stored, Some(&current))?;
        tracing::info!(
            providers = merged.config.providers.len(),
            models = merged.config.models.len(),
            combos = merged.config.combos.len(),
            skipped = merged.skipped.len(),
            "routing configuration rebuilt"
        );
        self.0.config.store(Arc::new(merged.config));
        self.0.skipped.store(Arc::new(merged.skipped));
        *last = Some(fingerprint);
        Ok(true)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    pub fn health(&self) -> &HealthRegistry {
        &self.0.health
    }

    pub fn idempotency(&self) -> &Idempotency {
        &self.0.idempotency
    }

    /// Every enabled provider's discovered models (cached; fetched when stale), or none when
    /// discovery is off.
    pub async fn discovered(&self, config: &Config) -> Discovered {
        if config.discovery_ttl.is_none() {
            return Discovered::new();
        }
        self.0.discovery.all(&self.0.http, &config.providers).await
    }

    pub fn services(&self) -> &Services {
        &self.0.services
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.0.telemetry
    }

    /// Addresses locked out after repeated authentication failures.
    pub fn lockout(&self) -> &Lockout {
        &self.0.lockout
    }

    /// Who is calling, by the key the request carries. An address that keeps failing is
    /// locked out for a growing while.
    pub fn authenticate_from(
        &self,
        config: &Config,
        peer: std::net::IpAddr,
        headers: &http::HeaderMap,
    ) -> Result<Principal, GatewayError> {
        let failed = |why| {
            if let Some(m) = self.0.telemetry.metrics() {
                m.auth_failed(why);
            }
        };
        if let Some(wait) = self.0.lockout.check(peer) {
            failed(AuthFailure::LockedOut);
            return Err(GatewayError::LockedOut { retry_after: wait });
        }
        let result = self.authenticate(config, headers);
        match &result {
            Err(GatewayError::Unauthorized(_)) => {
                failed(AuthFailure::InvalidKey);
                self.0.lockout.failed(peer);
            }
            Ok(Principal::Key(_) | Principal::StaticKey(_)) => self.0.lockout.succeeded(peer),
            _ => {}
        }
        result
    }

    /// Who is calling, by the key the request carries.
    pub fn authenticate(
        &self,
        config: &Config,
        headers: &http::HeaderMap,
    ) -> Result<Principal, GatewayError> {
        crate::auth::authenticate(&config.auth, self.0.services.keys.as_deref(), headers)
    }

    pub fn set_draining(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }
}
