//! Sending one request upstream: first-byte timeout, and turning transport failures and
//! upstream error responses into [`GatewayError`]s.

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::time::{Instant, timeout_at};

use crate::error::{GatewayError, TimeoutPhase};
use crate::providers::Provider;

/// How much of an upstream error body is read to report it.
const MAX_ERROR_BODY: usize = 64 << 10;

/// Sends the request and waits for the response headers (bounded by the first-byte timeout
/// and the overall deadline). Any HTTP answer is `Ok`; see [`into_error`] for non-2xx ones.
pub async fn send(
    provider: &Provider,
    request: reqwest::RequestBuilder,
    deadline: Instant,
) -> Result<reqwest::Response, GatewayError> {
    let first_byte = (Instant::now() + provider.timeouts.first_byte).min(deadline);
    let phase = if first_byte < deadline {
        TimeoutPhase::FirstByte
    } else {
        TimeoutPhase::Total
    };
    match timeout_at(first_byte, request.send()).await {
        Err(_) => Err(GatewayError::UpstreamTimeout {
            provider: provider.id.clone(),
            phase,
        }),
        Ok(Err(e)) => Err(transport_error(&provider.id, &e)),
        Ok(Ok(r)) => Ok(r),
    }
}

/// Maps a transport-level failure.
pub fn transport_error(provider: &str, e: &reqwest::Error) -> GatewayError {
    if e.is_timeout() {
        return GatewayError::UpstreamTimeout {
            provider: provider.to_owned(),
            phase: if e.is_connect() {
                TimeoutPhase::Connect
            } else {
                TimeoutPhase::Idle
            },
        };
    }
    GatewayError::UpstreamUnreachable {
        provider: provider.to_owned(),
        detail: root_cause(e),
    }
}

/// The innermost cause, which says what actually happened ("Connection refused").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    let mut text = e.to_string();
    while let Some(next) = cur.source() {
        text = next.to_string();
        cur = next;
    }
    text
}

/// Reads a non-2xx answer (bounded) into [`GatewayError::Upstream`].
pub async fn into_error(
    provider: &Provider,
    response: reqwest::Response,
    deadline: Instant,
) -> GatewayError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_capped(response, MAX_ERROR_BODY, deadline).await;
    let (message, openai_body) = describe_error_body(&body);
    GatewayError::Upstream {
        provider: provider.id.clone(),
        status,
        message,
        openai_body,
        retry_after,
    }
}

/// The upstream's own message, and its body when it is already an OpenAI error object.
fn describe_error_body(body: &[u8]) -> (String, Option<Bytes>) {
    #[derive(serde::Deserialize)]
    struct Envelope {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: String,
    }
    match serde_json::from_slice::<Envelope>(body) {
        Ok(env) => (env.error.message, Some(Bytes::copy_from_slice(body))),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let mut message: String = text.chars().take(500).collect();
            if message.is_empty() {
                message = "(empty body)".into();
            }
            (message, None)
        }
    }
}

async fn read_capped(response: reqwest::Response, cap: usize, deadline: Instant) -> Vec<u8> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while body.len() < cap {
        match timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => {
                body.extend_from_slice(&chunk[..chunk.len().min(cap - body.len())])
            }
            _ => break,
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::describe_error_body;

    #[test]
    fn openai_error_bodies_pass_through_others_are_wrapped() {
        let (msg, body) =
            describe_error_body(br#"{"error":{"message":"Rate limit reached","type":"requests"}}"#);
        assert_eq!(msg, "Rate limit reached");
        assert!(body.is_some());
        let (msg, body) = describe_error_body(b"<html>Bad Gateway</html>");
        assert_eq!(msg, "<html>Bad Gateway</html>");
        assert!(body.is_none());
        assert_eq!(describe_error_body(b"").0, "(empty body)");
    }
}
