//! The configuration file as written: serde structs that reject unknown fields. `validate`
//! turns them into runtime types where every reference is resolved.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::units::ByteSize;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub server: RawServer,
    pub http: RawHttp,
    pub auth: RawAuth,
    pub providers: BTreeMap<String, RawProvider>,
    pub models: BTreeMap<String, RawVirtualModel>,
    pub combos: BTreeMap<String, RawCombo>,
    pub routing: RawRouting,
    pub idempotency: RawIdempotency,
    pub metrics: RawMetrics,
    pub usage: RawUsage,
    pub request_logs: RawRequestLogs,
    pub translation: RawTranslation,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMetrics {
    /// Serve `GET /metrics` (default true).
    pub enabled: Option<bool>,
    /// Also serve `/metrics` alone on this address.
    pub listen: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUsage {
    /// Raw usage records older than this are deleted (hourly rollups stay); default 90d.
    #[serde(with = "humantime_serde")]
    pub retention: Option<Duration>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRequestLogs {
    /// Log request and response bodies (default false).
    pub enabled: Option<bool>,
    /// Each body is cut to this size (default 16KiB).
    pub max_body_size: Option<ByteSize>,
    /// Logs older than this are deleted; default 14d.
    #[serde(with = "humantime_serde")]
    pub retention: Option<Duration>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIdempotency {
    /// How long after a response completes a repeated request still gets it (default 5s).
    #[serde(with = "humantime_serde")]
    pub window: Option<Duration>,
    pub max_entries: Option<usize>,
    /// Larger responses are not kept for replay (default 8MiB).
    pub max_body_size: Option<ByteSize>,
    /// All kept responses together (default 256MiB).
    pub max_total_size: Option<ByteSize>,
}

/// `[translation]`: what the translation path does beyond mapping fields.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTranslation {
    /// A keep-alive after this long without upstream events on a translated stream (`0s`: none).
    #[serde(with = "humantime_serde")]
    pub keep_alive: Option<Duration>,
    /// Image URLs fetched for upstreams that need bytes: the largest image (default 20MiB).
    pub image_max_size: Option<ByteSize>,
    /// The whole fetch of one image (default 10s).
    #[serde(with = "humantime_serde")]
    pub image_timeout: Option<Duration>,
    /// Allow fetching from private, loopback and link-local addresses (default false).
    pub image_allow_private: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: Option<String>,
    pub max_body_size: Option<ByteSize>,
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Option<Duration>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHttp {
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub pool_idle_timeout: Option<Duration>,
    pub pool_max_idle_per_host: Option<usize>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAuth {
    /// Static gateway keys (literal or `env:NAME`). Empty: open on loopback.
    pub keys: Vec<String>,
    /// Serve without keys on a non-loopback address (explicit opt-in).
    pub allow_open: bool,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawProvider {
    pub name: Option<String>,
    pub wire_format: Option<String>,
    pub base_url: Option<String>,
    pub auth: Option<String>,
    /// Credentials, literal or `env:NAME`; several are used in turn.
    pub keys: Option<Vec<String>>,
    /// `round_robin` (default) or `fill_first`.
    pub key_strategy: Option<String>,
    /// OAuth2 credentials refreshed automatically.
    pub oauth2: Vec<RawOAuth2>,
    pub headers: BTreeMap<String, String>,
    pub timeouts: RawTimeouts,
    pub models: BTreeMap<String, RawModel>,
    pub aliases: Option<Vec<String>>,
    pub enabled: Option<bool>,
    /// Azure OpenAI: the `api-version` of deployment URLs (the model is the deployment).
    pub api_version: Option<String>,
    /// Image URLs are fetched and sent as bytes (servers that cannot fetch URLs themselves).
    pub inline_images: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth2 {
    pub token_url: String,
    pub client_id: String,
    /// Literal or `env:NAME`.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Literal or `env:NAME`.
    pub refresh_token: String,
    #[serde(default)]
    pub scope: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTimeouts {
    #[serde(with = "humantime_serde")]
    pub first_byte: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub idle: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub total: Option<Duration>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawModel {
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub input_price: Option<f64>,
    pub output_price: Option<f64>,
    pub cache_read_price: Option<f64>,
    pub cache_write_price: Option<f64>,
    pub capabilities: Option<Vec<String>>,
    /// The model writes its reasoning inline as `<think>…</think>`: move it into reasoning.
    pub think_tags: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawVirtualModel {
    /// `provider/model`.
    pub target: String,
    /// Request parameters applied when the client did not set them.
    pub params: serde_json::Map<String, serde_json::Value>,
    pub context_window: Option<u64>,
    pub description: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCombo {
    /// `fallback` (default), `round_robin`, `weighted`, `random`, `least_busy`, `latency`,
    /// `cost` or `quota`.
    pub strategy: Option<String>,
    pub targets: Vec<RawComboTarget>,
    /// Attempts across all targets (default: one per target, at most 10).
    pub max_attempts: Option<u32>,
    /// The whole request, every attempt and wait included.
    #[serde(with = "humantime_serde")]
    pub deadline: Option<Duration>,
    /// Failure classes that move on to the next target: `connect`, `timeout`, `rate_limit`,
    /// `server_error`, `context_length` (default: all of them).
    pub retry_on: Option<Vec<String>>,
    pub description: Option<String>,
}

/// A combo target: `"provider/model"` or a model/combo name, or a table with a weight and
/// parameter overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawComboTarget {
    Name(String),
    Detailed(RawComboTargetTable),
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawComboTargetTable {
    pub target: String,
    pub weight: Option<u32>,
    pub params: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRouting {
    /// Checked in order after exact names and `provider/model`.
    pub wildcards: Vec<RawWildcard>,
    /// Circuit-breaker thresholds for every target.
    pub breaker: Option<crate::routing::health::BreakerConfig>,
    pub retry: RawRetry,
    /// How long a credential rests after a 429 without Retry-After (exponential from `base`).
    pub cooldown: Option<crate::providers::credentials::CooldownConfig>,
    /// Fetch each provider's model list for `/v1/models` (default true).
    pub discover_models: Option<bool>,
    /// How long a fetched model list is kept (default 10m).
    #[serde(with = "humantime_serde")]
    pub discovery_ttl: Option<Duration>,
    /// The context window of a model nothing else describes (default 32768).
    pub default_context_window: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRetry {
    /// Attempts on one target before moving on (default 1: no retry).
    pub per_target: Option<u32>,
    #[serde(with = "humantime_serde")]
    pub base: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub cap: Option<Duration>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWildcard {
    /// A glob with `*`, e.g. `claude-*`.
    #[serde(rename = "match")]
    pub pattern: String,
    /// A provider id or alias (the requested name is passed through as the model), or a
    /// virtual model or combo name.
    pub target: String,
}
