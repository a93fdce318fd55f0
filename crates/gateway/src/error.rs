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
    /// The caller's balance does not cover the request (402).
    InsufficientQuota,
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
    /// A request the gateway cannot carry out as sent, e.g. a content type that has no
    /// equivalent in the provider's wire format.
    #[error("{message}")]
    InvalidRequest { param: String, message: String },
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
    /// Every attempt of a route plan failed; `last` decides the status.
    #[error("{}", attempts_message(.attempts))]
    AllAttemptsFailed {
        attempts: Vec<Attempt>,
        last: Box<GatewayError>,
    },
    /// Every credential that could serve the request is resting after rate limits: the
    /// gateway answers for the upstream rather than sending a call it knows will fail.
    #[error("every credential for this model is cooling down after rate limits; retry in {}s ({detail})", .retry_after.as_secs().max(1))]
    CoolingDown {
        retry_after: std::time::Duration,
        detail: String,
    },
    /// Too many failed authentications from this address.
    #[error("too many failed authentication attempts from this address; retry in {}s", .retry_after.as_secs().max(1))]
    LockedOut { retry_after: std::time::Duration },
    /// The caller's key may not do this (e.g. use this model).
    #[error("{0}")]
    Forbidden(String),
    /// The caller's rate, concurrency or budget limit refused the request.
    #[error("{0}")]
    Limited(crate::limits::Refusal),
    /// An `Idempotency-Key` that cannot be honoured for this request.
    #[error("{0}")]
    Idempotency(crate::relay::idempotency::Conflict),
    #[error("internal error: {0}")]
    Internal(String),
}

/// One attempt of a route plan, as reported to the client when all of them failed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attempt {
    pub provider: String,
    pub model: String,
    /// `failed` (with the error) or `skipped` (with why).
    pub outcome: &'static str,
    pub status: Option<u16>,
    pub error: String,
}

fn attempts_message(attempts: &[Attempt]) -> String {
    let tried: Vec<String> = attempts
        .iter()
        .map(|a| format!("{}/{} {}: {}", a.provider, a.model, a.outcome, a.error))
        .collect();
    format!("no target could answer ({})", tried.join("; "))
}

/// What kind of failure an error is, for deciding whether the next target may do better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    Connect,
    Timeout,
    RateLimit,
    ServerError,
    ContextLength,
    /// Anything else: the request itself is at fault, or the failure is final.
    Final,
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
            Self::BadJson { .. }
            | Self::MissingField { .. }
            | Self::InvalidField { .. }
            | Self::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            Self::UnknownModel { .. } | Self::NoRoute { .. } => StatusCode::NOT_FOUND,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::UpstreamUnreachable { .. } | Self::UpstreamProtocol { .. } => {
                StatusCode::BAD_GATEWAY
            }
            Self::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Upstream { status, .. } => *status,
            // Nothing was tried at all (every breaker open): the service is unavailable.
            Self::AllAttemptsFailed { attempts, .. }
                if attempts.iter().all(|a| a.outcome == "skipped") =>
            {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::AllAttemptsFailed { last, .. } => last.status(),
            Self::Idempotency(c) => c.status(),
            Self::Limited(crate::limits::Refusal::Balance { .. }) => StatusCode::PAYMENT_REQUIRED,
            Self::CoolingDown { .. } | Self::Limited(_) | Self::LockedOut { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn failure_class(&self) -> FailureClass {
        match self {
            Self::UpstreamUnreachable { .. } => FailureClass::Connect,
            Self::UpstreamTimeout { .. } => FailureClass::Timeout,
            Self::UpstreamProtocol { .. } => FailureClass::ServerError,
            Self::Upstream {
                status, message, ..
            } => match status.as_u16() {
                429 => FailureClass::RateLimit,
                500..=599 => FailureClass::ServerError,
                400 | 413 | 422 if is_context_length_message(message) => {
                    FailureClass::ContextLength
                }
                _ => FailureClass::Final,
            },
            _ => FailureClass::Final,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::BadJson { .. }
            | Self::MissingField { .. }
            | Self::InvalidField { .. }
            | Self::InvalidRequest { .. }
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
            Self::AllAttemptsFailed { last, .. } => last.kind(),
            Self::Idempotency(_) => ErrorKind::InvalidRequest,
            Self::Limited(crate::limits::Refusal::Balance { .. }) => ErrorKind::InsufficientQuota,
            Self::CoolingDown { .. } | Self::Limited(_) => ErrorKind::RateLimited,
            Self::LockedOut { .. } => ErrorKind::Authentication,
            Self::Forbidden(_) => ErrorKind::Authentication,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Whether another attempt (on this or another target) may succeed.
    pub fn is_retryable(&self) -> bool {
        self.failure_class() != FailureClass::Final
    }

    /// A low-cardinality name for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::BadJson { .. } => "bad_json",
            Self::MissingField { .. } => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::UnknownModel { .. } => "unknown_model",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::Unauthorized(_) => "unauthorized",
            Self::NoRoute { .. } => "no_route",
            Self::UpstreamUnreachable { .. } => "upstream_unreachable",
            Self::UpstreamTimeout { .. } => "upstream_timeout",
            Self::UpstreamProtocol { .. } => "upstream_protocol",
            Self::Upstream { .. } => "upstream_error",
            Self::AllAttemptsFailed { .. } => "all_attempts_failed",
            Self::Idempotency(_) => "idempotency_conflict",
            Self::CoolingDown { .. } => "cooling_down",
            Self::Forbidden(_) => "forbidden",
            Self::LockedOut { .. } => "locked_out",
            Self::Limited(r) => r.label(),
            Self::Internal(_) => "internal",
        }
    }

    /// Seconds the client should wait before retrying, when known.
    pub fn retry_after(&self) -> Option<String> {
        match self {
            Self::Upstream { retry_after, .. } => retry_after.clone(),
            Self::CoolingDown { retry_after, .. } | Self::LockedOut { retry_after } => {
                Some(retry_after.as_secs().max(1).to_string())
            }
            Self::Limited(r) => r
                .retry_after()
                .map(|d| d.as_secs_f64().ceil().max(1.0).to_string()),
            Self::AllAttemptsFailed { last, .. } => last.retry_after(),
            _ => None,
        }
    }

    /// The request parameter the error is about, when there is one.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::MissingField { field } | Self::InvalidField { field, .. } => Some(field),
            Self::UnknownModel { .. } => Some("model"),
            Self::InvalidRequest { param, .. } => Some(param),
            _ => None,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::BadJson { .. } => "invalid_json",
            Self::MissingField { .. } => "missing_required_parameter",
            Self::InvalidField { .. } => "invalid_type",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::UnknownModel { .. } => "model_not_found",
            Self::BodyTooLarge { .. } => "request_too_large",
            Self::Unauthorized(_) => "invalid_api_key",
            Self::NoRoute { .. } => "unknown_url",
            Self::UpstreamUnreachable { .. } => "upstream_unreachable",
            Self::UpstreamTimeout { .. } => "upstream_timeout",
            Self::UpstreamProtocol { .. } => "upstream_invalid_response",
            Self::AllAttemptsFailed { .. } => "all_attempts_failed",
            Self::Idempotency(c) => c.code(),
            Self::CoolingDown { .. } => "credentials_cooling_down",
            Self::Forbidden(_) => "model_not_allowed",
            Self::LockedOut { .. } => "auth_locked_out",
            Self::Limited(crate::limits::Refusal::Budget { .. }) => "budget_exceeded",
            Self::Limited(crate::limits::Refusal::Balance { .. }) => "insufficient_balance",
            Self::Limited(_) => "rate_limit_exceeded",
            Self::Upstream { .. } | Self::Internal(_) => return None,
        })
    }
}

/// Whether an upstream's message says the prompt did not fit the model's context window.
/// Providers word it differently; these cover OpenAI, Anthropic, Gemini, Mistral, vLLM and
/// the OpenAI-compatible servers built on them.
pub fn is_context_length_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "context_length_exceeded",
        "context length",
        "context window",
        "maximum context",
        "prompt is too long",
        "too many tokens",
        "input is too long",
        "exceeds the maximum number of tokens",
        "max_model_len",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(status: u16, message: &str) -> GatewayError {
        GatewayError::Upstream {
            provider: "p".into(),
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            message: message.into(),
            openai_body: None,
            retry_after: None,
        }
    }

    #[test]
    fn failure_classes() {
        assert_eq!(
            upstream(429, "slow down").failure_class(),
            FailureClass::RateLimit
        );
        assert_eq!(
            upstream(503, "overloaded").failure_class(),
            FailureClass::ServerError
        );
        assert_eq!(
            upstream(400, "This model's maximum context length is 8192 tokens").failure_class(),
            FailureClass::ContextLength
        );
        assert_eq!(
            upstream(400, "prompt is too long: 210000 tokens > 200000 maximum").failure_class(),
            FailureClass::ContextLength
        );
        assert_eq!(
            upstream(400, "invalid temperature").failure_class(),
            FailureClass::Final
        );
        assert_eq!(
            upstream(401, "bad key").failure_class(),
            FailureClass::Final
        );
        assert!(!upstream(400, "invalid temperature").is_retryable());
        assert!(
            GatewayError::UpstreamUnreachable {
                provider: "p".into(),
                detail: "refused".into()
            }
            .is_retryable()
        );
    }
}
