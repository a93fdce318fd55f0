//! The Gemini wire format: `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent` (`?alt=sse` for server-sent events, else one JSON array), and the
//! same under Vertex AI's `/v1/projects/{project}/locations/{location}/publishers/google`,
//! with the same scripting and call recording as the OpenAI routes. Content replies become a
//! [`Turn`] rendered as a `GenerateContentResponse` or a stream of them; faults render
//! directly, errors as Gemini error objects.

mod render;
mod request;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;

use crate::body::{self, End};
use crate::script::Reply;
use crate::server::{BODY_LIMIT, Shared};
use crate::turn::{self, Prompt, Turn};

const JSON: &str = "application/json";
const EVENT_STREAM: &str = "text/event-stream";

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1beta/models/{action}", post(studio))
        .route(
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{action}",
            post(vertex),
        )
}

async fn studio(
    State(shared): State<Arc<Shared>>,
    Path(action): Path<String>,
    request: Request,
) -> Response {
    generate_content(&shared, &action, request).await
}

async fn vertex(
    State(shared): State<Arc<Shared>>,
    Path((_project, _location, action)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    generate_content(&shared, &action, request).await
}

/// How the answer goes out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Json,
    /// `:streamGenerateContent?alt=sse`.
    Sse,
    /// `:streamGenerateContent` without `alt=sse`: one JSON array of chunks.
    Array,
}

async fn generate_content(shared: &Shared, action: &str, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(e) => {
            return body::full(
                StatusCode::PAYLOAD_TOO_LARGE,
                JSON,
                render::error(413, &e.to_string()),
            );
        }
    };
    shared.recorder.record(&parts, &body);
    let (model, shape) = match action.rsplit_once(':') {
        Some((model, "generateContent")) => (model, Shape::Json),
        Some((model, "streamGenerateContent")) => {
            let sse = parts
                .uri
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "alt=sse"));
            (model, if sse { Shape::Sse } else { Shape::Array })
        }
        _ => {
            return body::full(
                StatusCode::NOT_FOUND,
                JSON,
                render::error(404, &format!("testkit: unknown method in '{action}'")),
            );
        }
    };
    let reply = shared.script.next();
    let parsed = request::parse(&body, model, shape != Shape::Json);
    answer(shared, &reply, parsed, shape).await
}

async fn answer(
    shared: &Shared,
    mut reply: &Reply,
    parsed: Result<Prompt, String>,
    shape: Shape,
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
                return if shape == Shape::Sse {
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
                };
            }
            Reply::DropMidStream { after_chunks } => {
                let prompt = parsed.unwrap_or_default();
                return drop_mid_stream(shared, &prompt, *after_chunks, shape);
            }
            Reply::Echo | Reply::Text { .. } | Reply::ToolCall { .. } | Reply::Stream { .. } => {
                return match parsed {
                    Ok(prompt) => generate(shared, reply, &prompt, shape),
                    Err(message) => {
                        body::full(StatusCode::BAD_REQUEST, JSON, render::error(400, &message))
                    }
                };
            }
        }
    }
}

fn generate(shared: &Shared, reply: &Reply, prompt: &Prompt, shape: Shape) -> Response {
    let meta = shared.meta(&prompt.model);
    let Some(turn) = turn::respond(reply, prompt, &shared.opts, meta.seq) else {
        return body::full(
            StatusCode::INTERNAL_SERVER_ERROR,
            JSON,
            render::error(500, "testkit: not a content reply"),
        );
    };
    let delay = turn.delay();
    match shape {
        Shape::Json => body::full(StatusCode::OK, JSON, render::response(&turn, &meta)),
        Shape::Array => body::full(StatusCode::OK, JSON, render::array(&turn, &meta)),
        Shape::Sse => {
            let guard = shared.recorder.stream_guard();
            body::paced(
                EVENT_STREAM,
                render::stream(&turn, &meta),
                delay,
                End::Complete,
                guard,
            )
        }
    }
}

/// Streams `after_chunks` text chunks then aborts; a non-stream request gets half of its
/// JSON body, then the abort.
fn drop_mid_stream(
    shared: &Shared,
    prompt: &Prompt,
    after_chunks: usize,
    shape: Shape,
) -> Response {
    let meta = shared.meta(&prompt.model);
    let text = turn::truncated_stream(prompt, &shared.opts, after_chunks);
    let delay = text.delay;
    let turn = Turn::Text(text);
    match shape {
        Shape::Json => body::truncated(JSON, render::response(&turn, &meta)),
        Shape::Array => body::truncated(JSON, render::array(&turn, &meta)),
        Shape::Sse => {
            let events = render::stream(&turn, &meta)
                .into_iter()
                .take(after_chunks)
                .collect();
            let guard = shared.recorder.stream_guard();
            body::paced(EVENT_STREAM, events, delay, End::Abort, guard)
        }
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
        None => render::error(code.as_u16(), &format!("mock error: status {status}")),
    };
    let mut response = body::full(code, JSON, body);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
