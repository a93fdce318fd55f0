//! The OpenAI wire format: routes under `/v1`, and how each scripted reply looks in it.
//!
//! Each scripted request goes: read body → record the call → take the next reply →
//! parse the body (`request`) → follow `SlowFirstByte` delays → answer: faults are
//! rendered directly, content replies become a [`Turn`](crate::turn::Turn) that `render`
//! writes as JSON or as an SSE stream.

mod render;
mod request;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;

use crate::body::{self, End};
use crate::script::Reply;
use crate::server::{BODY_LIMIT, Shared, unix_now};
use crate::turn::{self, Turn};
use request::{Endpoint, Parsed};

const JSON: &str = "application/json";
const EVENT_STREAM: &str = "text/event-stream";

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        // Azure OpenAI's deployment form of the same endpoints (`?api-version=…` is recorded).
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(chat),
        )
        .route(
            "/openai/deployments/{deployment}/embeddings",
            post(embeddings),
        )
}

async fn chat(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    scripted(&shared, Endpoint::Chat, request).await
}

async fn completions(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    scripted(&shared, Endpoint::Completions, request).await
}

async fn embeddings(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    scripted(&shared, Endpoint::Embeddings, request).await
}

/// A fixed model list. Counted as a call, but takes no scripted reply.
async fn models(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    shared.recorder.record(&parts, &Bytes::new());
    let created = unix_now();
    let data: Vec<serde_json::Value> = ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "mock-model"]
        .into_iter()
        .map(|id| serde_json::json!({"id": id, "object": "model", "created": created, "owned_by": "switchboard-mock"}))
        .collect();
    let list = serde_json::json!({"object": "list", "data": data});
    body::full(StatusCode::OK, JSON, list.to_string())
}

/// Unknown routes: an OpenAI-style 404, not counted as a call.
pub(crate) async fn not_found(method: Method, uri: Uri) -> Response {
    let message = format!("Unknown request URL: {method} {}.", uri.path());
    let error = render::error(&message, "invalid_request_error", Some("unknown_url"));
    body::full(StatusCode::NOT_FOUND, JSON, error)
}

async fn scripted(shared: &Shared, endpoint: Endpoint, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(e) => return invalid_request(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()),
    };
    shared.recorder.record(&parts, &body);
    let reply = shared.script.next();
    let parsed = request::parse(endpoint, &body);
    answer(shared, endpoint, &reply, parsed).await
}

/// Content replies (`Echo`, `Text`, `ToolCall`, `Stream`) need a valid body and get a
/// 400 otherwise, as from a real model; fault replies apply whatever the body was.
async fn answer(
    shared: &Shared,
    endpoint: Endpoint,
    mut reply: &Reply,
    parsed: Result<Parsed, String>,
) -> Response {
    loop {
        match reply {
            Reply::SlowFirstByte { delay_ms, then } => {
                tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
                reply = then;
            }
            Reply::Status {
                status,
                body,
                retry_after,
            } => return status_response(*status, body.as_ref(), *retry_after),
            Reply::Raw {
                status,
                headers,
                body,
            } => return body::raw(*status, headers, body),
            Reply::Hang => return body::hang().await,
            Reply::Malformed => {
                let stream = parsed.as_ref().is_ok_and(Parsed::stream);
                return malformed(shared, stream);
            }
            Reply::DropMidStream { after_chunks } => {
                let parsed = parsed.unwrap_or_else(|_| Parsed::fallback(endpoint));
                return drop_mid_stream(shared, &parsed, *after_chunks);
            }
            Reply::Echo | Reply::Text { .. } | Reply::ToolCall { .. } | Reply::Stream { .. } => {
                return match parsed {
                    Ok(parsed) => generate(shared, reply, &parsed),
                    Err(message) => invalid_request(StatusCode::BAD_REQUEST, &message),
                };
            }
        }
    }
}

/// Renders a content reply on this endpoint.
fn generate(shared: &Shared, reply: &Reply, parsed: &Parsed) -> Response {
    let opts = &shared.opts;
    let (prompt, chat) = match parsed {
        Parsed::Chat(prompt) => (prompt, true),
        Parsed::Completion(prompt) => (prompt, false),
        Parsed::Embeddings(request) => {
            // Every content reply gets embeddings here: there is no text to script.
            let meta = shared.meta(&request.model);
            let body = render::embeddings(request, &meta, opts.embeddings_always_float);
            return body::full(StatusCode::OK, JSON, body);
        }
    };
    let meta = shared.meta(&prompt.model);
    let Some(turn) = turn::respond(reply, prompt, opts, meta.seq) else {
        let message = "testkit: not a content reply";
        return body::full(
            StatusCode::INTERNAL_SERVER_ERROR,
            JSON,
            render::error(message, "server_error", None),
        );
    };
    if !prompt.stream {
        let body = if chat {
            render::chat(&turn, &meta)
        } else {
            render::completion(&turn, &meta)
        };
        return body::full(StatusCode::OK, JSON, body);
    }
    let events = if chat {
        render::chat_stream(&turn, &meta, prompt.include_usage)
    } else {
        render::completion_stream(&turn, &meta, prompt.include_usage)
    };
    let delay = turn.delay();
    let guard = shared.recorder.stream_guard();
    body::paced(EVENT_STREAM, events, delay, End::Complete, guard)
}

/// Streams `after_chunks` content chunks then aborts; a non-stream request gets half of
/// its JSON body, then the abort.
fn drop_mid_stream(shared: &Shared, parsed: &Parsed, after_chunks: usize) -> Response {
    let opts = &shared.opts;
    let (prompt, chat) = match parsed {
        Parsed::Chat(prompt) => (prompt, true),
        Parsed::Completion(prompt) => (prompt, false),
        Parsed::Embeddings(request) => {
            let meta = shared.meta(&request.model);
            let body = render::embeddings(request, &meta, opts.embeddings_always_float);
            return body::truncated(JSON, body);
        }
    };
    let meta = shared.meta(&prompt.model);
    let text = turn::truncated_stream(prompt, opts, after_chunks);
    let delay = text.delay;
    let turn = Turn::Text(text);
    if !prompt.stream {
        let body = if chat {
            render::chat(&turn, &meta)
        } else {
            render::completion(&turn, &meta)
        };
        return body::truncated(JSON, body);
    }
    let (events, preamble) = if chat {
        (
            render::chat_stream(&turn, &meta, false),
            render::CHAT_PREAMBLE_EVENTS,
        )
    } else {
        (render::completion_stream(&turn, &meta, false), 0)
    };
    let events = events.into_iter().take(preamble + after_chunks).collect();
    let guard = shared.recorder.stream_guard();
    body::paced(EVENT_STREAM, events, delay, End::Abort, guard)
}

fn malformed(shared: &Shared, stream: bool) -> Response {
    if stream {
        let guard = shared.recorder.stream_guard();
        body::paced(
            EVENT_STREAM,
            render::malformed_stream(),
            Duration::ZERO,
            End::Complete,
            guard,
        )
    } else {
        body::full(StatusCode::OK, JSON, render::MALFORMED_JSON)
    }
}

fn status_response(
    status: u16,
    body: Option<&serde_json::Value>,
    retry_after: Option<u64>,
) -> Response {
    let code = body::status_code(status);
    let body = match body {
        Some(value) => Bytes::from(value.to_string()),
        None => render::status_error(code.as_u16()),
    };
    let mut response = body::full(code, JSON, body);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn invalid_request(status: StatusCode, message: &str) -> Response {
    body::full(
        status,
        JSON,
        render::error(message, "invalid_request_error", None),
    )
}
