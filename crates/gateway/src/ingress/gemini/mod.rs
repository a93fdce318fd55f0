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
pub use stream::{StreamWriter, content_type as stream_content_type, includes_thoughts, is_sse};

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

/// The body field that carries what the decoder needs from the URL (the model and the
/// stream framing), spliced into the client's JSON object so that the body stays JSON (as
/// request logs keep it). A body that is not an object passes unchanged and fails to parse.
const ROUTE: &str = "$switchboard_route";

fn envelope(model: &str, framing: &str, body: &[u8]) -> Bytes {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(open) = start.filter(|&i| body[i] == b'{') else {
        return Bytes::copy_from_slice(body);
    };
    let rest = &body[open + 1..];
    let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
    let route = serde_json::json!({ "model": model, "framing": framing });
    let mut out = Vec::with_capacity(body.len() + model.len() + 64);
    out.extend_from_slice(&body[..=open]);
    out.extend_from_slice(format!("\"{ROUTE}\":{route}").as_bytes());
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Bytes::from(out)
}

fn decode_envelope(body: &[u8]) -> Result<canonical::Request, GatewayError> {
    let mut request = parse(body)?;
    let route = request.extra.shift_remove(ROUTE);
    let field = |name: &str| {
        route
            .as_ref()
            .and_then(|r| r.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| GatewayError::Internal("a Gemini request without its route".into()))
    };
    let (model, framing) = (field("model")?, field("framing")?);
    let include_thoughts = request
        .generation_config
        .as_ref()
        .and_then(|g| g.thinking_config.as_ref())
        .and_then(|t| t.include_thoughts)
        == Some(true);
    let mut request = to_canonical(request, &model)?;
    if include_thoughts {
        request.passthrough.dialect = Some(wire::Dialect::Gemini);
        request
            .passthrough
            .fields
            .insert(stream::THOUGHTS.into(), Value::Bool(true));
    }
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
    fn the_route_is_spliced_into_the_body_and_taken_out_again() {
        let body = envelope(
            "fast",
            "sse",
            br#" { "contents": [{"parts": [{"text": "hi"}]}] }"#,
        );
        let request = decode_envelope(&body).unwrap_or_default();
        assert_eq!(request.model, "fast");
        assert!(request.stream && is_sse(&request));
        assert_eq!(request.messages.len(), 1);
        let empty = envelope("fast", "json", b"{}");
        assert!(serde_json::from_slice::<Value>(&empty).is_ok());
        assert_eq!(&envelope("fast", "json", b"[1]")[..], b"[1]");
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
