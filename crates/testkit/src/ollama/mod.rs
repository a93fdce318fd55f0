//! The Ollama wire format: `POST /api/chat`, streaming NDJSON unless the request says
//! `"stream": false`, with the same scripting and call recording as the OpenAI routes.
//! Content replies become a [`Turn`] rendered as one chat object or a stream of them; faults
//! render directly, errors as Ollama's `{"error": "…"}`.

mod render;
mod request;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;

use crate::body::{self, End};
use crate::script::Reply;
use crate::server::{BODY_LIMIT, Shared};
use crate::turn::{self, Prompt, Turn};

const JSON: &str = "application/json";
const NDJSON: &str = "application/x-ndjson";

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/api/chat", post(chat))
}

async fn chat(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(e) => {
            return body::full(
                StatusCode::PAYLOAD_TOO_LARGE,
                JSON,
                render::error(&e.to_string()),
            );
        }
    };
    shared.recorder.record(&parts, &body);
    let reply = shared.script.next();
    answer(&shared, &reply, request::parse(&body)).await
}

async fn answer(shared: &Shared, mut reply: &Reply, parsed: Result<Prompt, String>) -> Response {
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
                return if parsed.as_ref().is_ok_and(|p| p.stream) {
                    let guard = shared.recorder.stream_guard();
                    body::paced(
                        NDJSON,
                        vec![Bytes::from_static(render::MALFORMED_LINE)],
                        Duration::ZERO,
                        End::Complete,
                        guard,
                    )
                } else {
                    body::full(StatusCode::OK, JSON, render::MALFORMED_JSON)
                };
            }
            Reply::DropMidStream { after_chunks } => {
                let prompt = parsed.unwrap_or_default();
                return drop_mid_stream(shared, &prompt, *after_chunks);
            }
            Reply::Echo | Reply::Text { .. } | Reply::ToolCall { .. } | Reply::Stream { .. } => {
                return match parsed {
                    Ok(prompt) => generate(shared, reply, &prompt),
                    Err(message) => {
                        body::full(StatusCode::BAD_REQUEST, JSON, render::error(&message))
                    }
                };
            }
        }
    }
}

fn generate(shared: &Shared, reply: &Reply, prompt: &Prompt) -> Response {
    let meta = shared.meta(&prompt.model);
    let Some(turn) = turn::respond(reply, prompt, &shared.opts, meta.seq) else {
        return body::full(
            StatusCode::INTERNAL_SERVER_ERROR,
            JSON,
            render::error("testkit: not a content reply"),
        );
    };
    if !prompt.stream {
        return body::full(StatusCode::OK, JSON, render::response(&turn, &meta));
    }
    let delay = turn.delay();
    let guard = shared.recorder.stream_guard();
    body::paced(
        NDJSON,
        render::stream(&turn, &meta),
        delay,
        End::Complete,
        guard,
    )
}

/// Streams `after_chunks` text lines then aborts; a non-stream request gets half of its JSON
/// body, then the abort.
fn drop_mid_stream(shared: &Shared, prompt: &Prompt, after_chunks: usize) -> Response {
    let meta = shared.meta(&prompt.model);
    let text = turn::truncated_stream(prompt, &shared.opts, after_chunks);
    let delay = text.delay;
    let turn = Turn::Text(text);
    if !prompt.stream {
        return body::truncated(JSON, render::response(&turn, &meta));
    }
    let lines = render::stream(&turn, &meta)
        .into_iter()
        .take(after_chunks)
        .collect();
    let guard = shared.recorder.stream_guard();
    body::paced(NDJSON, lines, delay, End::Abort, guard)
}

fn status_response(
    status: u16,
    body: Option<&serde_json::Value>,
    retry_after: Option<u64>,
) -> Response {
    let code = body::status_code(status);
    let body = match body {
        Some(value) => Bytes::from(value.to_string()),
        None => render::error(&format!("mock error: status {status}")),
    };
    let mut response = body::full(code, JSON, body);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
