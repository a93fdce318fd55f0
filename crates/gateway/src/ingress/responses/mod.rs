//! The OpenAI Responses dialect (`/v1/responses`), as the Codex CLI and the `openai` SDKs'
//! `client.responses` speak it:
//!
//! - `POST /v1/responses` — decoded into the canonical model and sent through the translation
//!   path to the routed upstream; the answer is a response object, or with `stream: true` the
//!   Responses event stream (`response.created` … `response.completed`).
//! - `previous_response_id` — the stored turn it names (its input items and its output) is put
//!   in front of the new input, so the upstream sees the whole conversation. An id this
//!   gateway does not hold (never seen, expired, or another caller's) is a 404.
//! - `GET /v1/responses/{id}`, `DELETE /v1/responses/{id}` — from the in-memory [`store`].
//! - `GET /v1/responses/{id}/input_items` — the stored input items of a response, as a list
//!   page (`items`).
//! - `GET /v1/responses` — a WebSocket upgrade (Codex tries one first) is refused at once with
//!   `426 Upgrade Required`, on which Codex falls back to HTTP with server-sent events.
//!
//! - Tools: functions, also grouped in `namespace` tools (flattened to `{namespace}__{name}`
//!   upstream, their calls answered with the namespace again); hosted web search, which the
//!   Codex CLI always offers, is left out (logged at debug); other tool types are refused.
//!
//! Errors are OpenAI error objects; a failure mid-stream ends the stream with an `error` event.
//! Responses are stored unless the request says `"store": false`.

mod items;
mod store;

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use wire::canonical;
use wire::responses::{ResponseObject, ResponsesRequest};

use crate::error::GatewayError;
use crate::ingress::openai::{error_body, error_response};
use crate::relay::passthrough::{self, ErrorRendering, Mode};
use crate::state::AppState;

const RENDERING: ErrorRendering = ErrorRendering {
    response: error_response,
    event: error_event,
};

const RESPONSES: Mode = Mode::Translate {
    client: wire::Dialect::Responses,
    label: "responses",
    decode,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/responses", post(create).get(upgrade))
        .route("/v1/responses/{id}", get(retrieve).delete(remove))
        .route("/v1/responses/{id}/input_items", get(input_items_of))
}

/// A new response in progress for `request`, answered as `client_model`: a fresh
/// `resp_…` id and the request's settings echoed.
pub(crate) fn base(request: &canonical::Request, client_model: &str) -> ResponseObject {
    let id = format!("resp_{}", uuid::Uuid::new_v4().simple());
    let created = crate::usage::unix_ms(std::time::SystemTime::now()) / 1000;
    let mut base = wire::responses::codec::base_response(request, &id, created);
    base.model = client_model.to_owned();
    base
}

/// The error as an `error` event, ending a Responses stream.
pub fn error_event(err: &GatewayError) -> Bytes {
    let body = error_body(err);
    let e = &body["error"];
    let data = json!({
        "type": "error",
        "code": e["code"].as_str().or_else(|| e["type"].as_str()),
        "message": e["message"],
        "param": e["param"],
        "sequence_number": 0,
        "error": e,
    });
    wire::sse::encode(Some("error"), &data.to_string())
}

/// The events ending a Responses stream that fails after it began: `response.failed` with
/// the response so far and the error, then an `error` event, numbered on from the stream's.
pub(crate) fn failure(
    encoder: &mut wire::responses::codec::EventEncoder,
    err: &GatewayError,
) -> Bytes {
    let body = error_body(err);
    let e = &body["error"];
    let code = e["code"]
        .as_str()
        .or_else(|| e["type"].as_str())
        .map(str::to_owned);
    let message = e["message"].as_str().unwrap_or_default().to_owned();
    let mut events = Vec::new();
    encoder.fail(code, message, &mut events);
    let mut out = Vec::new();
    for event in events {
        let data = serde_json::to_string(&event).unwrap_or_default();
        out.extend_from_slice(&wire::sse::encode(Some(event.kind.name()), &data));
    }
    Bytes::from(out)
}

/// An OpenAI error response with `status`, `code` and `param`.
fn error(status: StatusCode, code: Option<&str>, param: Option<&str>, message: String) -> Response {
    let body = json!({
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Parses a Responses body with clear errors.
fn parse(body: &[u8]) -> Result<ResponsesRequest, GatewayError> {
    let request: ResponsesRequest = serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            GatewayError::BadJson {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            }
        } else {
            GatewayError::InvalidRequest {
                param: String::new(),
                message: format!("the request body does not match the Responses API: {e}"),
            }
        }
    })?;
    if request.model.is_empty() {
        return Err(GatewayError::InvalidField {
            field: "model",
            expected: "a non-empty string",
        });
    }
    if request.input.is_none() {
        return Err(GatewayError::MissingField { field: "input" });
    }
    Ok(request)
}

/// Decodes a `POST /v1/responses` body into the canonical request.
fn decode(body: &[u8]) -> Result<canonical::Request, GatewayError> {
    let request = parse(body)?;
    for tool in request.tools.iter().flatten() {
        if tool.kind().starts_with("web_search") {
            tracing::debug!(
                tool = tool.kind(),
                "hosted tool left out of the translated request"
            );
        }
    }
    wire::responses::codec::decode_request(&request).map_err(|e| GatewayError::InvalidRequest {
        param: e.field,
        message: e.message,
    })
}

/// The input as a list of items (a string is one user message).
fn input_items(input: Option<&Value>) -> Vec<Value> {
    match input {
        Some(Value::String(s)) => vec![json!({ "role": "user", "content": s })],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

async fn create(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Only a JSON object is looked into here; anything else gets its error from the relay.
    let Some(mut object) = body
        .as_ref()
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| match v {
            Value::Object(o) => Some(o),
            _ => None,
        })
    else {
        return passthrough::forward_as(&state, RESPONSES, peer.ip(), &headers, body, &RENDERING)
            .await;
    };
    let mut input = input_items(object.get("input"));
    let previous = object
        .get("previous_response_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut body = body;
    if let Some(previous) = previous {
        let config = state.config();
        let scope = match state.authenticate_from(&config, peer.ip(), &headers) {
            Ok(principal) => principal.scope(),
            Err(e) => return error_response(&e),
        };
        let Some(entry) = store::global().get(&previous, &scope) else {
            return error(
                StatusCode::NOT_FOUND,
                Some("previous_response_not_found"),
                Some("previous_response_id"),
                format!("Previous response with id '{previous}' not found."),
            );
        };
        let mut all = entry.input;
        all.extend(
            entry.response["output"]
                .as_array()
                .into_iter()
                .flatten()
                .cloned(),
        );
        all.append(&mut input);
        input = all;
        object.insert("input".into(), Value::Array(input.clone()));
        body = Ok(Bytes::from(Value::Object(object.clone()).to_string()));
    }
    let keep = object.get("store").and_then(Value::as_bool) != Some(false);
    let response =
        passthrough::forward_as(&state, RESPONSES, peer.ip(), &headers, body, &RENDERING).await;
    if !keep || response.status() != StatusCode::OK {
        return response;
    }
    // The request was let in: the same key names the caller again, without side effects.
    let Ok(principal) = state.authenticate(&state.config(), &headers) else {
        return response;
    };
    keep_response(response, principal.scope(), input)
}

/// Passes the answer through and stores the response once it is complete, before its last
/// piece goes out: a JSON body when it parses whole, a stream at its `response.completed`
/// (or `.incomplete`) event.
fn keep_response(response: Response, scope: String, input: Vec<Value>) -> Response {
    let streamed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let (parts, body) = response.into_parts();
    let mut data = body.into_data_stream();
    let body = async_stream::stream! {
        let mut sse = wire::sse::SseDecoder::new();
        let mut json = Vec::new();
        let mut pending = Some((scope, input));
        while let Some(piece) = data.next().await {
            let piece = match piece {
                Ok(piece) => piece,
                Err(e) => {
                    yield Err(e);
                    return;
                }
            };
            if pending.is_some() {
                if streamed {
                    sse.push(&piece);
                    while let Ok(Some(event)) = sse.next_event() {
                        let done = matches!(
                            event.event.as_deref(),
                            Some("response.completed" | "response.incomplete")
                        );
                        if done
                            && let Ok(mut v) = serde_json::from_str::<Value>(&event.data)
                            && let Some((scope, input)) = pending.take()
                        {
                            keep(v["response"].take(), scope, input);
                        }
                    }
                } else {
                    // The translation path sends a JSON answer as one piece: stored before
                    // it goes out, so the client can chain to it at once.
                    json.extend_from_slice(&piece);
                    if let Ok(v) = serde_json::from_slice::<Value>(&json)
                        && let Some((scope, input)) = pending.take()
                    {
                        keep(v, scope, input);
                    }
                }
            }
            yield Ok(piece);
        }
    };
    Response::from_parts(parts, Body::from_stream(body))
}

fn keep(response: Value, scope: String, input: Vec<Value>) {
    if let Some(id) = response["id"].as_str() {
        store::global().insert(
            id.to_owned(),
            store::Entry {
                scope,
                input,
                response,
            },
        );
    }
}

/// `GET /v1/responses`: only ever a WebSocket attempt, refused so the client uses HTTP.
async fn upgrade(headers: HeaderMap) -> Response {
    let websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let mut response = if websocket {
        error(
            StatusCode::UPGRADE_REQUIRED,
            Some("websocket_not_supported"),
            None,
            "This gateway serves the Responses API over HTTP only: send POST /v1/responses \
             (with \"stream\": true for server-sent events)."
                .into(),
        )
    } else {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            Some("method_not_allowed"),
            None,
            "Use POST /v1/responses to create a response, GET /v1/responses/{id} to read one."
                .into(),
        )
    };
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        None,
        None,
        format!("Response with id '{id}' not found."),
    )
}

/// `GET /v1/responses/{id}`.
async fn retrieve(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let scope = match state.authenticate_from(&state.config(), peer.ip(), &headers) {
        Ok(principal) => principal.scope(),
        Err(e) => return error_response(&e),
    };
    match store::global().get(&id, &scope) {
        Some(entry) => {
            let mut response = Response::new(Body::from(entry.response.to_string()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        None => not_found(&id),
    }
}

/// `GET /v1/responses/{id}/input_items`.
async fn input_items_of(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<items::ItemsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let scope = match state.authenticate_from(&state.config(), peer.ip(), &headers) {
        Ok(principal) => principal.scope(),
        Err(e) => return error_response(&e),
    };
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, None, None, e.body_text()),
    };
    let Some(entry) = store::global().get(&id, &scope) else {
        return not_found(&id);
    };
    match items::page(&id, &entry.input, &query) {
        Ok(list) => {
            let mut response = Response::new(Body::from(list.to_string()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(items::BadQuery(param, message)) => {
            error(StatusCode::BAD_REQUEST, None, Some(param), message)
        }
    }
}

/// `DELETE /v1/responses/{id}`.
async fn remove(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let scope = match state.authenticate_from(&state.config(), peer.ip(), &headers) {
        Ok(principal) => principal.scope(),
        Err(e) => return error_response(&e),
    };
    if !store::global().remove(&id, &scope) {
        return not_found(&id);
    }
    let body = json!({ "id": id, "object": "response.deleted", "deleted": true });
    let mut response = Response::new(Body::from(body.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
