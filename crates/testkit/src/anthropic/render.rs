//! Anthropic response shapes: the `message` object, the stream's event sequence
//! (`message_start`, `ping`, `content_block_start`/`_delta`/`_stop`, `message_delta`,
//! `message_stop`) and error objects. Usage: `input_tokens` excludes cache reads, which the
//! scripted usage counts inside `prompt_tokens`.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::script::MockUsage;
use crate::server::Meta;
use crate::turn::{TextTurn, ToolTurn, Turn};

/// Events before the first content delta: `message_start`, `ping`, `content_block_start`.
pub(crate) const PREAMBLE_EVENTS: usize = 3;

fn usage(u: MockUsage) -> Value {
    json!({
        "input_tokens": u.prompt_tokens.saturating_sub(u.cached_tokens),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": u.cached_tokens,
        "output_tokens": u.completion_tokens,
    })
}

fn id(meta: &Meta) -> String {
    format!("msg_mock_{}", meta.seq)
}

/// A non-streamed message.
pub(crate) fn message(turn: &Turn, meta: &Meta) -> Bytes {
    let (content, stop, u) = match turn {
        Turn::Text(t) => (
            json!([{ "type": "text", "text": t.text }]),
            "end_turn",
            t.usage,
        ),
        Turn::ToolCall(c) => (
            json!([{ "type": "tool_use", "id": c.id, "name": c.name, "input": input(c) }]),
            "tool_use",
            c.usage,
        ),
    };
    Bytes::from(
        json!({
            "id": id(meta), "type": "message", "role": "assistant", "model": meta.model,
            "content": content, "stop_reason": stop, "stop_sequence": null, "usage": usage(u),
        })
        .to_string(),
    )
}

fn input(call: &ToolTurn) -> Value {
    serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}))
}

fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The event sequence of a streamed message.
pub(crate) fn stream(turn: &Turn, meta: &Meta) -> Vec<Bytes> {
    let u = turn.usage();
    let start_usage = json!({
        "input_tokens": u.prompt_tokens.saturating_sub(u.cached_tokens),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": u.cached_tokens,
        "output_tokens": 1,
    });
    let mut out = vec![
        event(
            "message_start",
            &json!({ "type": "message_start", "message": {
                "id": id(meta), "type": "message", "role": "assistant", "model": meta.model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage,
            } }),
        ),
        event("ping", &json!({ "type": "ping" })),
    ];
    let stop = match turn {
        Turn::Text(t) => text_block(t, &mut out),
        Turn::ToolCall(c) => tool_block(c, &mut out),
    };
    out.push(event(
        "content_block_stop",
        &json!({ "type": "content_block_stop", "index": 0 }),
    ));
    out.push(event(
        "message_delta",
        &json!({ "type": "message_delta",
                 "delta": { "stop_reason": stop, "stop_sequence": null },
                 "usage": usage(u) }),
    ));
    out.push(event("message_stop", &json!({ "type": "message_stop" })));
    out
}

fn text_block(turn: &TextTurn, out: &mut Vec<Bytes>) -> &'static str {
    out.push(event(
        "content_block_start",
        &json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
    ));
    for piece in turn.pieces() {
        out.push(event(
            "content_block_delta",
            &json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": piece } }),
        ));
    }
    "end_turn"
}

fn tool_block(call: &ToolTurn, out: &mut Vec<Bytes>) -> &'static str {
    out.push(event(
        "content_block_start",
        &json!({ "type": "content_block_start", "index": 0,
                 "content_block": { "type": "tool_use", "id": call.id, "name": call.name, "input": {} } }),
    ));
    for piece in call.argument_pieces() {
        out.push(event(
            "content_block_delta",
            &json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "input_json_delta", "partial_json": piece } }),
        ));
    }
    "tool_use"
}

/// `{"type": "error", "error": {"type", "message"}}`.
pub(crate) fn error(kind: &str, message: &str) -> Bytes {
    Bytes::from(
        json!({ "type": "error", "error": { "type": kind, "message": message } }).to_string(),
    )
}

/// The error object Anthropic sends with `status`.
pub(crate) fn status_error(status: u16) -> Bytes {
    let kind = match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 | 503 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    };
    error(kind, &format!("mock error: status {status}"))
}

/// A JSON body cut off mid-way.
pub(crate) const MALFORMED_JSON: &str = r#"{"id": "msg_mock", "type": "message", "content": [{"#;

/// A stream whose first event is not valid JSON.
pub(crate) fn malformed_stream() -> Vec<Bytes> {
    vec![Bytes::from_static(
        b"event: message_start\ndata: {\"type\": \"message_start\", \"message\": {\"id\n\n",
    )]
}
