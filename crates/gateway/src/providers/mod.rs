//! Providers: runtime descriptions of each configured upstream (data), and one adapter per
//! wire format (code). Adding a provider is a catalog entry; adding a wire format is a module.

pub mod anthropic;
pub mod catalog;
pub mod credentials;
pub mod discovery;
pub mod gemini;
pub mod ollama;
pub mod openai;

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde::Serialize;
use wire::WireFormat;

use self::credentials::CredentialPool;

/// How a provider expects its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStyle {
    /// `Authorization: Bearer KEY`
    Bearer,
    /// `api-key: KEY` (Azure OpenAI style)
    ApiKeyHeader,
    /// `NAME: KEY`
    Header(HeaderName),
    /// No credential.
    None,
}

impl std::str::FromStr for AuthStyle {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bearer" => Ok(Self::Bearer),
            "api-key" | "api_key" => Ok(Self::ApiKeyHeader),
            "none" => Ok(Self::None),
            other => match other.strip_prefix("header:") {
                Some(name) => HeaderName::try_from(name.trim())
                    .map(Self::Header)
                    .map_err(|_| format!("'{name}' is not a valid header name")),
                None => Err(format!(
                    "unknown auth style '{other}' (expected bearer, api-key, none or header:NAME)"
                )),
            },
        }
    }
}

impl AuthStyle {
    pub fn needs_key(&self) -> bool {
        !matches!(self, Self::None)
    }

    pub fn as_string(&self) -> String {
        match self {
            Self::Bearer => "bearer".into(),
            Self::ApiKeyHeader => "api-key".into(),
            Self::Header(h) => format!("header:{h}"),
            Self::None => "none".into(),
        }
    }
}

/// Per-provider timeouts. Connecting is bounded by the shared client's connect timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Until the response headers arrive (for a non-streaming call: the whole generation).
    pub first_byte: Duration,
    /// Between two chunks of a response body.
    pub idle: Duration,
    /// The whole exchange, body included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            first_byte: Duration::from_secs(300),
            idle: Duration::from_secs(120),
            total: Duration::from_secs(900),
        }
    }
}

/// Prices in micro-dollars per million tokens (so $0.59/M is 590_000): integers, never floats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Prices {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<u64>,
}

impl Prices {
    pub fn is_empty(&self) -> bool {
        self.input.is_none()
            && self.output.is_none()
            && self.cache_read.is_none()
            && self.cache_write.is_none()
    }
}

/// What is known about one model of a provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelInfo {
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub prices: Prices,
    pub capabilities: Vec<String>,
    /// The model writes its reasoning inline as `<think>…</think>`: moved into reasoning.
    pub think_tags: bool,
}

/// Where a provider's definition came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A catalog entry enabled because its key variable is set.
    DetectedFromEnv(String),
    /// Declared (or adjusted) in the configuration file.
    Config,
    /// Created at run time through the admin API or CLI (kept in the database).
    Store,
}

/// One upstream, fully resolved: credentials read, headers parsed, models merged.
#[derive(Debug)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub wire_format: WireFormat,
    /// Base URL without a trailing slash, e.g. `https://api.groq.com/openai/v1`.
    pub base_url: String,
    pub auth: AuthStyle,
    /// API keys and OAuth2 credentials, with their cooldowns and breakers.
    pub credentials: CredentialPool,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub timeouts: Timeouts,
    pub models: BTreeMap<String, ModelInfo>,
    pub origin: Origin,
    /// Azure OpenAI: requests go to `{base_url}/openai/deployments/{model}/…?api-version=…`
    /// (the model is the deployment name) instead of `{base_url}/…`.
    pub api_version: Option<String>,
    /// Image URLs are fetched by the gateway and sent as bytes (config `inline_images`; wire
    /// formats that take only bytes do it regardless).
    pub inline_images: bool,
}

impl Provider {
    #[expect(
        clippy::too_many_arguments,
        reason = "built in one place, by config validation"
    )]
    pub fn new(
        id: String,
        name: String,
        wire_format: WireFormat,
        base_url: String,
        auth: AuthStyle,
        credentials: CredentialPool,
        headers: Vec<(HeaderName, HeaderValue)>,
        timeouts: Timeouts,
        models: BTreeMap<String, ModelInfo>,
        origin: Origin,
    ) -> Self {
        Self {
            id,
            name,
            wire_format,
            base_url: base_url.trim_end_matches('/').to_owned(),
            auth,
            credentials,
            headers,
            timeouts,
            models,
            origin,
            api_version: None,
            inline_images: false,
        }
    }
}
