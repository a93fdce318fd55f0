//! The same-dialect fast path: the client's body is forwarded with only `model` (and, for a
//! stream, `stream_options.include_usage`) changed, and the answer relayed as it arrives.
//!
//! Stages, in order: read body → authenticate → parse the top level → resolve the model →
//! rewrite the body → send → peek the first piece → relay.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tokio::time::Instant;
use wire::json::RawObject;

use super::{RelayCtx, json_body, sse_events, upstream};
use crate::auth;
use crate::config::Config;
use crate::error::GatewayError;
use crate::providers::Provider;
use crate::providers::openai::{self, Endpoint};
use crate::routing;
use crate::state::AppState;
use crate::telemetry::{Exchange, Outcome};

/// How the client's dialect renders errors.
pub struct ErrorRendering {
    pub response: fn(&GatewayError) -> Response,
    pub event: fn(&GatewayError) -> Bytes,
}

/// A request ready to send.
struct Prepared {
    provider: Arc<Provider>,
    body: Vec<u8>,
    stream: bool,
    strip_usage_chunk: bool,
    client_model: String,
}

/// The request id set by the request-id layer (or sent by the client).
pub fn request_id(headers: &HeaderMap) -> Arc<str> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .into()
}

pub async fn forward(
    state: &AppState,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    render: &ErrorRendering,
) -> Response {
    let mut exchange = Exchange::new(request_id(headers), endpoint.label());
    let config = state.config();
    let prepared = match prepare(&config, endpoint, headers, body, &mut exchange) {
        Ok(p) => p,
        Err(e) => return reject(exchange, &e, render),
    };
    let deadline = Instant::now() + prepared.provider.timeouts.total;
    let request = openai::request(state.http(), &prepared.provider, endpoint, prepared.stream)
        .header("x-request-id", exchange.request_id.as_ref())
        .body(prepared.body);
    let response = match upstream::send(&prepared.provider, request, deadline).await {
        Ok(r) => r,
        Err(e) => return reject(exchange, &e, render),
    };
    exchange.status = 200;
    let ctx = RelayCtx {
        provider: prepared.provider.id.clone(),
        client_model: prepared.client_model,
        strip_usage_chunk: prepared.strip_usage_chunk,
        idle: prepared.provider.timeouts.idle,
        deadline,
        exchange,
        error_event: render.event,
    };
    let upstream_model = header_value(&ctx.exchange.upstream_model.clone().unwrap_or_default());
    let provider_id = header_value(&prepared.provider.id);
    let (content_type, stream): (_, std::pin::Pin<Box<dyn Stream<Item = _> + Send>>) =
        if prepared.stream {
            ("text/event-stream", Box::pin(sse_events(response, ctx)))
        } else {
            ("application/json", Box::pin(json_body(response, ctx)))
        };
    let mut stream = stream;
    // Peek: a failure before anything was produced is still answered with an error status.
    let first = match stream.next().await {
        Some(Err(e)) => return (render.response)(&e),
        first => first,
    };
    let mut response = Response::new(Body::from_stream(
        futures_util::stream::iter(first).chain(stream),
    ));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if prepared.stream {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    h.insert("x-switchboard-provider", provider_id);
    h.insert("x-switchboard-model", upstream_model);
    response
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

fn reject(mut exchange: Exchange, err: &GatewayError, render: &ErrorRendering) -> Response {
    exchange.status = err.status().as_u16();
    exchange.error = Some(err.to_string());
    exchange.finish(Outcome::Rejected);
    (render.response)(err)
}

/// Turns a body-read failure into the error the client should see.
pub fn body_error(rejection: &BytesRejection, limit: usize) -> GatewayError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        GatewayError::BodyTooLarge { limit }
    } else {
        GatewayError::BadJson {
            line: 0,
            column: 0,
            message: format!("could not read the request body: {}", rejection.body_text()),
        }
    }
}

fn prepare(
    config: &Config,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    exchange: &mut Exchange,
) -> Result<Prepared, GatewayError> {
    let body = body.map_err(|r| body_error(&r, config.server.max_body_bytes))?;
    auth::authenticate(&config.auth, headers)?;
    let mut obj = RawObject::parse(&body).map_err(|e| GatewayError::BadJson {
        line: e.line,
        column: e.column,
        message: e.message,
    })?;

    let client_model = match obj.get("model") {
        None => return Err(GatewayError::MissingField { field: "model" }),
        Some(raw) => serde_json::from_str::<String>(raw.get())
            .ok()
            .filter(|m| !m.is_empty())
            .ok_or(GatewayError::InvalidField {
                field: "model",
                expected: "a non-empty string",
            })?,
    };
    exchange.model = Some(client_model.clone());

    let (field, expected) = endpoint.required_field();
    let value = obj
        .get(field)
        .ok_or(GatewayError::MissingField { field })?
        .get()
        .trim();
    let shape_ok = match endpoint {
        Endpoint::ChatCompletions => value.starts_with('[') && value[1..].trim_start() != "]",
        Endpoint::Completions | Endpoint::Embeddings => {
            value.starts_with('[') || value.starts_with('"')
        }
    };
    if !shape_ok {
        return Err(GatewayError::InvalidField { field, expected });
    }

    let stream = match obj.get("stream").map(|v| v.get().trim()) {
        None | Some("false" | "null") => false,
        Some("true") if endpoint.streams() => true,
        Some("true") => {
            return Err(GatewayError::InvalidField {
                field: "stream",
                expected: "false (this endpoint does not stream)",
            });
        }
        Some(_) => {
            return Err(GatewayError::InvalidField {
                field: "stream",
                expected: "a boolean",
            });
        }
    };
    exchange.stream = stream;

    let route = routing::resolve(config, &client_model)?;
    exchange.provider = Some(route.provider.id.clone());
    exchange.upstream_model = Some(route.upstream_model.to_owned());

    let internal = |e: wire::json::JsonError| GatewayError::Internal(e.to_string());
    for (key, value) in route.params.into_iter().flatten() {
        if !obj.contains(key) && key != "model" && key != "stream" {
            obj.set(key, value).map_err(internal)?;
        }
    }
    obj.set("model", route.upstream_model).map_err(internal)?;

    let mut strip_usage_chunk = false;
    if stream {
        let mut options = match obj.get("stream_options") {
            None => serde_json::Map::new(),
            Some(raw) if raw.get().trim() == "null" => serde_json::Map::new(),
            Some(raw) => {
                serde_json::from_str(raw.get()).map_err(|_| GatewayError::InvalidField {
                    field: "stream_options",
                    expected: "an object",
                })?
            }
        };
        if options.get("include_usage") != Some(&serde_json::Value::Bool(true)) {
            options.insert("include_usage".into(), serde_json::Value::Bool(true));
            obj.set("stream_options", &options).map_err(internal)?;
            strip_usage_chunk = true;
        }
    }

    Ok(Prepared {
        provider: Arc::clone(route.provider),
        body: obj.to_vec(),
        stream,
        strip_usage_chunk,
        client_model,
    })
}
