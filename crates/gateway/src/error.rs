//! Per-request errors. Each knows its HTTP status, whether another target may succeed
//! (`is_retryable`, which drives fallback), and a low-cardinality label for logs and metrics.
//! Rendering into a client's dialect lives in that dialect's ingress module.

use bytes::Bytes;
use http::StatusCode;

/// The coarse class of an error, mapped to each dialect's error `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    NotFound,
    RateLimited,
    Upstream,
    Timeout,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("the request body is not valid JSON: {message} at line {line} column {column}")]
    BadJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("missing required parameter: '{field}'")]
    MissingField { field: &'static str },
    #[error("invalid type for '{field}': expected {expected}")]
    InvalidField {
        field: &'static str,
        expected: &'static str,
    },
    #[error("{}", unknown_model_message(.model, .suggestions))]
    UnknownModel {
        model: String,
        suggestions: Vec<String>,
    },
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("no route for {method} {path}")]
    NoRoute { method: String, path: String },
    #[error("provider '{provider}' is unreachable: {detail}")]
    UpstreamUnreachable { provider: String, detail: String },
    #[error("provider '{provider}' timed out ({phase})")]
    UpstreamTimeout {
        provider: String,
        phase: TimeoutPhase,
    },
    #[error("provider '{provider}' sent an invalid response: {detail}")]
    UpstreamProtocol { provider: String, detail: String },
    /// The upstream answered with an error of its own: passed through with its status.
    #[error("provider '{provider}' returned {status}: {message}")]
    Upstream {
        provider: String,
        status: StatusCode,
        message: String,
        /// The upstream's body when it already is an OpenAI-shaped error object.
        openai_body: Option<Bytes>,
        retry_after: Option<String>,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

/// Which of a provider's timeouts fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    Connect,
    FirstByte,
    Idle,
    Total,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect timeout",
            Self::FirstByte => "no response headers within the first-byte timeout",
            Self::Idle => "no data within the idle timeout",
            Self::Total => "the total request timeout elapsed",
        })
    }
}

fn unknown_model_message(model: &str, suggestions: &[String]) -> String {
    let mut msg = format!("The model '{model}' does not exist or is not configured");
    if !suggestions.is_empty() {
        msg.push_str(". Did you mean: ");
        msg.push_str(&suggestions.join(", "));
        msg.push('?');
    }
    msg
}

impl GatewayError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadJson { .. } | Self::MissingField { .. } | Self::InvalidField { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::UnknownModel { .. } | Self::NoRoute { .. } => StatusCode::NOT_FOUND,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::UpstreamUnreachable { .. } | Self::UpstreamProtocol { .. } => {
                StatusCode::BAD_GATEWAY
            }
            Self::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Upstream { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::BadJson { .. }
            | Self::MissingField { .. }
            | Self::InvalidField { .. }
            | Self::BodyTooLarge { .. } => ErrorKind::InvalidRequest,
            Self::UnknownModel { .. } | Self::NoRoute { .. } => ErrorKind::NotFound,
            Self::Unauthorized(_) => ErrorKind::Authentication,
            Self::UpstreamUnreachable { .. } | Self::UpstreamProtocol { .. } => ErrorKind::Upstream,
            Self::UpstreamTimeout { .. } => ErrorKind::Timeout,
            Self::Upstream { status, .. } => match status.as_u16() {
                401 | 403 => ErrorKind::Authentication,
                404 => ErrorKind::NotFound,
                429 => ErrorKind::RateLimited,
                400..=499 => ErrorKind::InvalidRequest,
                _ => ErrorKind::Upstream,
            },
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Whether another attempt (on this or another target) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::UpstreamUnreachable { .. }
            | Self::UpstreamTimeout { .. }
            | Self::UpstreamProtocol { .. } => true,
            Self::Upstream { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            _ => false,
        }
    }

    /// A low-cardinality name for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::BadJson { .. } => "bad_json",
            Self::MissingField { .. } => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
            Self::UnknownModel { .. } => "unknown_model",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::Unauthorized(_) => "unauthorized",
            Self::NoRoute { .. } => "no_route",
            Self::UpstreamUnreachable { .. } => "upstream_unreachable",
            Self::UpstreamTimeout { .. } => "upstream_timeout",
            Self::UpstreamProtocol { .. } => "upstream_protocol",
            Self::Upstream { .. } => "upstream_error",
            Self::Internal(_) => "internal",
        }
    }

    /// The request parameter the error is about, when there is one.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::MissingField { field } | Self::InvalidField { field, .. } => Some(field),
            Self::UnknownModel { .. } => Some("model"),
            _ => None,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::BadJson { .. } => "invalid_json",
            Self::MissingField { .. } => "missing_required_parameter",
            Self::InvalidField { .. } => "invalid_type",
            Self::UnknownModel { .. } => "model_not_found",
            Self::BodyTooLarge { .. } => "request_too_large",
            Self::Unauthorized(_) => "invalid_api_key",
            Self::NoRoute { .. } => "unknown_url",
            Self::UpstreamUnreachable { .. } => "upstream_unreachable",
            Self::UpstreamTimeout { .. } => "upstream_timeout",
            Self::UpstreamProtocol { .. } => "upstream_invalid_response",
            Self::Upstream { .. } | Self::Internal(_) => return None,
        })
    }
}
