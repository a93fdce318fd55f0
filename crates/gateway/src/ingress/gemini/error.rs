//! Errors in the Gemini dialect: `{"error": {"code", "message", "status"}}` with the HTTP
//! status as `code` and Google's status name for it; mid-stream, the same object as the
//! stream's last element.
//!
//! | HTTP | `status` |
//! |---|---|
//! | 400, 413, 422 | `INVALID_ARGUMENT` |
//! | 401 | `UNAUTHENTICATED` |
//! | 402 | `FAILED_PRECONDITION` |
//! | 403 | `PERMISSION_DENIED` |
//! | 404 | `NOT_FOUND` |
//! | 409 | `ABORTED` |
//! | 429 | `RESOURCE_EXHAUSTED` |
//! | 499 | `CANCELLED` |
//! | 501 | `UNIMPLEMENTED` |
//! | 502, 503, 529 | `UNAVAILABLE` |
//! | 504 | `DEADLINE_EXCEEDED` |
//! | other 5xx | `INTERNAL` |

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use wire::gemini::ErrorBody;

use crate::error::GatewayError;

/// Google's status name for an HTTP status.
pub fn status_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "UNAUTHENTICATED",
        402 => "FAILED_PRECONDITION",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        502 | 503 | 529 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        400..=499 => "INVALID_ARGUMENT",
        _ => "INTERNAL",
    }
}

/// The Gemini error object for `err`.
pub fn error_body(err: &GatewayError) -> ErrorBody {
    let message = match err {
        // The upstream's own words, without the gateway's "provider 'x' returned 400: " frame.
        GatewayError::Upstream { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let status = err.status();
    ErrorBody::new(status.as_u16(), status_name(status), message)
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

/// The error as the last `data:` event of an `alt=sse` stream.
pub fn sse_error_event(err: &GatewayError) -> Bytes {
    let data = serde_json::to_string(&error_body(err)).unwrap_or_default();
    wire::sse::encode(None, &data)
}

/// The error as the last element of a JSON-array stream (at least one element is out
/// before any mid-stream error), closing the array.
pub fn array_error_event(err: &GatewayError) -> Bytes {
    let data = serde_json::to_string(&error_body(err)).unwrap_or_default();
    Bytes::from(format!(",\r\n{data}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_google_status_names() {
        for (status, name) in [
            (400, "INVALID_ARGUMENT"),
            (401, "UNAUTHENTICATED"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
            (429, "RESOURCE_EXHAUSTED"),
            (500, "INTERNAL"),
            (503, "UNAVAILABLE"),
            (504, "DEADLINE_EXCEEDED"),
        ] {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
            assert_eq!(status_name(status), name, "{status}");
        }
    }
}
