//! Errors in the Ollama dialect: `{"error": "…"}` with the gateway's status, and the same
//! object as the last line of a stream for failures mid-stream.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, header};
use wire::ollama::ErrorBody;

use crate::error::GatewayError;

/// The Ollama error object for `err`.
pub fn error_body(err: &GatewayError) -> ErrorBody {
    let error = match err {
        // The upstream's own words, without the gateway's "provider 'x' returned 400: " frame.
        GatewayError::Upstream { message, .. } => message.clone(),
        other => other.to_string(),
    };
    ErrorBody { error }
}

pub fn error_response(err: &GatewayError) -> Response {
    let body = serde_json::to_vec(&error_body(err)).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = err.status();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(ra) = err.retry_after()
        && let Ok(v) = HeaderValue::from_str(&ra)
    {
        headers.insert(header::RETRY_AFTER, v);
    }
    response
}

/// The error as the last NDJSON line of a stream.
pub fn error_event(err: &GatewayError) -> Bytes {
    let mut line = serde_json::to_vec(&error_body(err)).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}
