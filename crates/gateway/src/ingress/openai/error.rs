//! Errors in the OpenAI dialect: `{"error": {"message", "type", "param", "code"}}` with the
//! right status, and the same object as an SSE event for failures mid-stream.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, header};
use serde_json::{Value, json};

use crate::error::{ErrorKind, GatewayError};

fn error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::NotFound => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::RateLimited => "rate_limit_error",
        ErrorKind::InsufficientQuota => "insufficient_quota",
        ErrorKind::Upstream => "upstream_error",
        ErrorKind::Timeout => "timeout_error",
        ErrorKind::Internal => "server_error",
    }
}

/// The OpenAI error object for `err`.
pub fn error_body(err: &GatewayError) -> Value {
    let mut body = json!({
        "error": {
            "message": err.to_string(),
            "type": error_type(err.kind()),
            "param": err.param(),
            "code": err.code(),
        }
    });
    if let GatewayError::AllAttemptsFailed { attempts, .. } = err {
        body["error"]["attempts"] = json!(attempts);
    }
    body
}

pub fn error_response(err: &GatewayError) -> Response {
    // An upstream's own OpenAI-shaped error goes back as it came.
    let body = match err {
        GatewayError::Upstream {
            openai_body: Some(raw),
            ..
        } => raw.clone(),
        _ => Bytes::from(error_body(err).to_string()),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = err.status();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(ra) = err.retry_after()
        && let Ok(v) = HeaderValue::from_str(&ra)
    {
        headers.insert(header::RETRY_AFTER, v);
    }
    response
}

/// The error as one `data:` event, ending an OpenAI stream.
pub fn error_event(err: &GatewayError) -> Bytes {
    wire::sse::encode(None, &error_body(err).to_string())
}

impl axum::response::IntoResponse for GatewayError {
    /// Outside a dialect's handlers (route fallback, panics) errors render as OpenAI errors.
    fn into_response(self) -> Response {
        error_response(&self)
    }
}
