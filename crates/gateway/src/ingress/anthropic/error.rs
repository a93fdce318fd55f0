//! Errors in the Anthropic dialect: `{"type": "error", "error": {"type", "message"}}` with
//! the status Anthropic uses for that type, and the same object as an `error` stream event
//! for failures mid-stream.
//!
//! | status | `error.type` |
//! |---|---|
//! | 400, 422 | `invalid_request_error` |
//! | 401 | `authentication_error` |
//! | 402 | `billing_error` |
//! | 403 | `permission_error` |
//! | 404 | `not_found_error` |
//! | 413 | `request_too_large` |
//! | 429 | `rate_limit_error` |
//! | 503, 529 | `overloaded_error` |
//! | 504 | `timeout_error` |
//! | other 5xx | `api_error` |

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use wire::anthropic::ErrorBody;

use crate::error::GatewayError;

/// Anthropic's error type for a status.
pub fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// The Anthropic error object for `err`.
pub fn error_body(err: &GatewayError) -> ErrorBody {
    let message = match err {
        // The upstream's own words, without the gateway's "provider 'x' returned 400: " frame.
        GatewayError::Upstream { message, .. } => message.clone(),
        other => other.to_string(),
    };
    ErrorBody::new(error_type(err.status()), message)
}

pub fn error_response(err: &GatewayError) -> Response {
    let body = serde_json::to_vec(&error_body(err)).unwrap_or_default();
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

/// The error as an `event: error` stream event, ending an Anthropic stream.
pub fn error_event(err: &GatewayError) -> Bytes {
    let data = serde_json::to_string(&error_body(err)).unwrap_or_default();
    wire::sse::encode(Some("error"), &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_anthropic_types() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (529, "overloaded_error"),
        ] {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
            assert_eq!(error_type(status), kind, "{status}");
        }
    }
}
