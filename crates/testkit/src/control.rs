//! Control routes under `/__mock`, so out-of-process tests and benchmarks can script the
//! standalone binary. They are not API calls: nothing here is recorded or counted.
//!
//! - `POST /__mock/push` — body: a [`Reply`] as JSON; queues it.
//! - `POST /__mock/default` — body: a [`Reply`]; the reply used when the queue is empty.
//! - `GET /__mock/calls` — `{"calls": N}`.
//! - `GET /__mock/requests` — the recorded requests as a JSON array.
//! - `POST /__mock/reset` — clears queue, records and counters.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::record::Recorded;
use crate::script::Reply;
use crate::server::{Shared, reset};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__mock/push", post(push))
        .route("/__mock/default", post(set_default))
        .route("/__mock/calls", get(calls))
        .route("/__mock/requests", get(requests))
        .route("/__mock/reset", post(reset_all))
}

async fn push(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_reply(&body) {
        Ok(reply) => {
            let queued = shared.script.push(reply);
            Json(json!({"ok": true, "queued": queued})).into_response()
        }
        Err(message) => not_a_reply(&message),
    }
}

async fn set_default(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_reply(&body) {
        Ok(reply) => {
            shared.script.set_default(reply);
            Json(json!({"ok": true})).into_response()
        }
        Err(message) => not_a_reply(&message),
    }
}

async fn calls(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({"calls": shared.recorder.calls()}))
}

async fn requests(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let list = shared.recorder.requests().iter().map(to_json).collect();
    Json(Value::Array(list))
}

async fn reset_all(State(shared): State<Arc<Shared>>) -> Json<Value> {
    reset(&shared);
    Json(json!({"ok": true}))
}

fn parse_reply(body: &[u8]) -> Result<Reply, String> {
    serde_json::from_slice(body).map_err(|e| format!("testkit: not a reply: {e}"))
}

fn not_a_reply(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

/// A recorded request as JSON; the body is inlined when it is JSON, else a string.
fn to_json(recorded: &Recorded) -> Value {
    let body = recorded
        .json()
        .unwrap_or_else(|| String::from_utf8_lossy(&recorded.body).into_owned().into());
    let headers: serde_json::Map<String, Value> = recorded
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.clone().into()))
        .collect();
    json!({
        "method": recorded.method,
        "path": recorded.path,
        "query": recorded.query,
        "headers": headers,
        "body": body,
    })
}
