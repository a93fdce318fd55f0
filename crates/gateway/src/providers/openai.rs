//! The OpenAI-compatible wire format: endpoint paths and request authentication. Used by
//! OpenAI itself, by most named providers in the catalog, and by Azure OpenAI (deployment
//! URLs with an `api-version`, see [`url`]).

use http::HeaderValue;

use super::{AuthStyle, Provider};
use crate::secret::Secret;

/// The OpenAI endpoints the gateway relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
}

impl Endpoint {
    /// Path below the provider's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Self::ChatCompletions => "/chat/completions",
            Self::Completions => "/completions",
            Self::Embeddings => "/embeddings",
        }
    }

    /// The one request field, besides `model`, without which the request is meaningless.
    pub fn required_field(self) -> (&'static str, &'static str) {
        match self {
            Self::ChatCompletions => ("messages", "a non-empty array of messages"),
            Self::Completions => ("prompt", "a string or an array"),
            Self::Embeddings => ("input", "a string or an array"),
        }
    }

    /// Whether the endpoint can answer with a server-sent event stream.
    pub fn streams(self) -> bool {
        !matches!(self, Self::Embeddings)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::ChatCompletions => "chat.completions",
            Self::Completions => "completions",
            Self::Embeddings => "embeddings",
        }
    }
}

/// The URL of `endpoint` for `model`: `{base_url}{path}`, or for Azure OpenAI (a provider
/// with an `api_version`) `{base_url}/openai/deployments/{model}{path}?api-version={v}`.
pub fn url(provider: &Provider, endpoint: Endpoint, model: &str) -> String {
    match &provider.api_version {
        None => format!("{}{}", provider.base_url, endpoint.path()),
        Some(version) => format!(
            "{}/openai/deployments/{model}{}?api-version={version}",
            provider.base_url,
            endpoint.path()
        ),
    }
}

/// Starts the upstream request for `endpoint` and `model` with the given credential and the
/// provider's headers.
pub fn request(
    http: &reqwest::Client,
    provider: &Provider,
    endpoint: Endpoint,
    model: &str,
    stream: bool,
    credential: Option<&Secret>,
) -> reqwest::RequestBuilder {
    let req = http
        .post(url(provider, endpoint, model))
        .header(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )
        .header(
            http::header::ACCEPT,
            HeaderValue::from_static(if stream {
                "text/event-stream"
            } else {
                "application/json"
            }),
        );
    authorize(req, provider, credential)
}

/// Puts the credential where the provider expects it, and adds the provider's headers (and,
/// for the Anthropic wire format, `anthropic-version` when they have none).
pub fn authorize(
    mut req: reqwest::RequestBuilder,
    provider: &Provider,
    credential: Option<&Secret>,
) -> reqwest::RequestBuilder {
    if let Some(key) = credential {
        req = match &provider.auth {
            AuthStyle::Bearer => req.bearer_auth(key.expose()),
            AuthStyle::ApiKeyHeader => req.header("api-key", key.expose()),
            AuthStyle::Header(name) => req.header(name.clone(), key.expose()),
            AuthStyle::None => req,
        };
    }
    if provider.wire_format == wire::WireFormat::Anthropic
        && !provider
            .headers
            .iter()
            .any(|(name, _)| name == "anthropic-version")
    {
        req = req.header("anthropic-version", super::anthropic::VERSION);
    }
    for (name, value) in &provider.headers {
        req = req.header(name.clone(), value.clone());
    }
    req
}
