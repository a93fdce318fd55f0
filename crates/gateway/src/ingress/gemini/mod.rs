//! The Google Gemini API dialect, under `/v1beta/` and `/v1/`:
//!
//! - `POST models/{model}:generateContent`, `:streamGenerateContent` (`?alt=sse` for
//!   `data:` events, else one JSON array written element by element) and `:countTokens`;
//! - `GET /v1beta/models` and `GET /v1beta/models/{model}` in Gemini's format. `GET /v1/models`
//!   stays OpenAI's listing, except for requests with `x-goog-api-client` or `x-goog-api-key`
//!   (the `google-genai` SDKs, which list under `/v1/` by default).
//!
//! The model is the path segment before `:method`; it may hold a `/` (`openai/gpt-4o`, sent
//! raw or as `%2F`) or a `:` (`llama3:8b`) — the method is after the last `:`. The key comes
//! in `x-goog-api-key` (or any header the gateway reads) or in the `key` query parameter.
//! Requests go through the canonical model and the translation path; errors render as
//! Gemini error objects (`error`). `:embedContent` and `:batchEmbedContents` go to the
//! upstream's OpenAI `/embeddings` (`embed`).

mod count_tokens;
mod embed;
mod error;
pub mod models;
mod stream;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use wire::canonical;
use wire::gemini::GenerateContentRequest;

pub use error::{array_error_event, error_body, error_response, sse_error_event};
pub use stream::{StreamWriter, content_type as stream_content_type, is_sse};

use crate::error::GatewayError;
use crate::relay::passthrough::{self, ErrorRendering, Mode};
use crate::state::AppState;

const JSON: ErrorRendering = ErrorRendering {
    response: error_response,
    event: sse_error_event,
};

const SSE: ErrorRendering = ErrorRendering {
    response: error_response,
    event: sse_error_event,
};

const ARRAY: ErrorRendering = ErrorRendering {
    response: error_response,
    event: array_error_event,
};

const GENERATE: Mode = Mode::Translate {
    client: wire::Dialect::Gemini,
    label: "generate_content",
    decode: decode_envelope,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1beta/models", get(models::list))
        // `{*id}`, as OpenAI's `GET /v1/models/{*id}`: the same pattern, other methods.
        .route("/v1beta/models/{*id}", get(models::get).post(call))
        .route("/v1/models/{*id}", post(call))
}

/// `model` and `method` from `model:method` (the method after the last `:`).
fn split_call(segment: &str) -> Option<(&str, &str)> {
    let segment = segment.trim_start_matches('/');
    let segment = segment.strip_prefix("models/").unwrap_or(segment);
    let (model, method) = segment.rsplit_once(':')?;
    (!model.is_empty()).then_some((model, method))
}

/// The value of `name` in a query string, percent-decoded.
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
                continue;
            }
            (b'+', ..) => out.push(b' '),
            (b, ..) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The headers, with a `key` query parameter as `x-goog-api-key` when no header has a key.
pub(super) fn with_query_key(headers: &HeaderMap, query: Option<&str>) -> HeaderMap {
    let mut headers = headers.clone();
    if crate::auth::presented_key(&headers).is_none()
        && let Some(key) = query_param(query, "key")
        && let Ok(v) = HeaderValue::from_str(&key)
    {
        headers.insert("x-goog-api-key", v);
    }
    headers
}

/// `POST …/models/{model}:{method}`.
async fn call(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let headers = with_query_key(&headers, query.as_deref());
    let Some((model, method)) = split_call(&id) else {
        return error_response(&GatewayError::InvalidRequest {
            param: "model".into(),
            message: format!(
                "expected models/{{model}}:generateContent, :streamGenerateContent or \
                 :countTokens, not '{id}'"
            ),
        });
    };
    let (framing, render) = match method {
        "generateContent" => ("json", &JSON),
        "streamGenerateContent"
            if query_param(query.as_deref(), "alt").as_deref() == Some("sse") =>
        {
            ("sse", &SSE)
        }
        "streamGenerateContent" => ("array", &ARRAY),
        "countTokens" => {
            return count_tokens::handler(&state, peer, &headers, model, body);
        }
        "embedContent" | "batchEmbedContents" => {
            let batch = method == "batchEmbedContents";
            return embed::handler(&state, peer, &headers, model, batch, body).await;
        }
        other => {
            return error_response(&GatewayError::InvalidRequest {
                param: "method".into(),
                message: format!(
                    "the method '{other}' is not served: generateContent, \
                     streamGenerateContent, countTokens, embedContent and batchEmbedContents are"
                ),
            });
        }
    };
    let body = body.map(|b| envelope(model, framing, &b));
    passthrough::forward_as(&state, GENERATE, peer.ip(), &headers, body, render).await
}

/// What the decoder needs from the URL, before the body: `model\nframing\n` then the body
/// as sent (so a JSON error's line and column are the client's, plus two lines).
fn envelope(model: &str, framing: &str, body: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(model.len() + framing.len() + 2 + body.len());
    out.extend_from_slice(model.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(framing.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body);
    Bytes::from(out)
}

fn decode_envelope(bytes: &[u8]) -> Result<canonical::Request, GatewayError> {
    let mut pieces = bytes.splitn(3, |b| *b == b'\n');
    let (Some(model), Some(framing), Some(body)) = (pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(GatewayError::Internal(
            "a Gemini request without its envelope".into(),
        ));
    };
    let model = String::from_utf8_lossy(model).into_owned();
    let framing = String::from_utf8_lossy(framing).into_owned();
    let mut request = to_canonical(parse(body)?, &model)?;
    if framing != "json" {
        request.stream = true;
        request.passthrough.dialect = Some(wire::Dialect::Gemini);
        request
            .passthrough
            .fields
            .insert(stream::FRAMING.into(), Value::from(framing));
    }
    Ok(request)
}

/// Parses a `GenerateContentRequest` body.
pub(super) fn parse(body: &[u8]) -> Result<GenerateContentRequest, GatewayError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            GatewayError::BadJson {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            }
        } else {
            GatewayError::InvalidRequest {
                param: String::new(),
                message: format!("the request body does not match the Gemini API: {e}"),
            }
        }
    })
}

/// The canonical request for `model` (the URL's).
pub(super) fn to_canonical(
    mut request: GenerateContentRequest,
    model: &str,
) -> Result<canonical::Request, GatewayError> {
    if request.contents.is_empty() {
        return Err(GatewayError::InvalidField {
            field: "contents",
            expected: "a non-empty array of contents",
        });
    }
    request.model = Some(model.to_owned());
    wire::gemini::codec::decode_request(&request).map_err(|e| GatewayError::InvalidRequest {
        param: e.field,
        message: e.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_is_after_the_last_colon() {
        assert_eq!(
            split_call("gemini-x:generateContent"),
            Some(("gemini-x", "generateContent"))
        );
        assert_eq!(
            split_call("openai/llama3:8b:streamGenerateContent"),
            Some(("openai/llama3:8b", "streamGenerateContent"))
        );
        assert_eq!(
            split_call("models/x:countTokens"),
            Some(("x", "countTokens"))
        );
        assert_eq!(split_call("no-method"), None);
    }

    #[test]
    fn query_parameters_are_percent_decoded() {
        assert_eq!(
            query_param(Some("alt=sse&key=sk%2Dab+c"), "key").as_deref(),
            Some("sk-ab c")
        );
        assert_eq!(query_param(Some("alt=sse"), "key"), None);
        assert_eq!(query_param(Some("key=a%2"), "key").as_deref(), Some("a%2"));
    }
}
