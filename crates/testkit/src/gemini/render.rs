//! Gemini response shapes: the `GenerateContentResponse` (a whole answer, and each chunk of
//! a stream), its SSE and JSON-array streams, and error objects. Text streams one part a
//! chunk; a function call goes out whole, without an id (as the Gemini API sends it); the last
//! chunk carries `finishReason` and `usageMetadata`. Usage: `promptTokenCount` includes
//! `cachedContentTokenCount` (as the scripted `prompt_tokens` does), `candidatesTokenCount`
//! excludes `thoughtsTokenCount`.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::script::MockUsage;
use crate::server::Meta;
use crate::turn::Turn;

fn usage(u: MockUsage) -> Value {
    let reasoning = u.reasoning_tokens.min(u.completion_tokens);
    let mut out = json!({
        "promptTokenCount": u.prompt_tokens,
        "candidatesTokenCount": u.completion_tokens - reasoning,
        "totalTokenCount": u.prompt_tokens + u.completion_tokens,
    });
    if u.cached_tokens > 0 {
        out["cachedContentTokenCount"] = json!(u.cached_tokens);
    }
    if reasoning > 0 {
        out["thoughtsTokenCount"] = json!(reasoning);
    }
    out
}

fn chunk(parts: Value, meta: &Meta, last: Option<MockUsage>) -> Value {
    let mut candidate = json!({ "content": { "role": "model", "parts": parts }, "index": 0 });
    let mut out = json!({
        "candidates": [],
        "modelVersion": meta.model,
        "responseId": format!("resp_mock_{}", meta.seq),
    });
    if let Some(u) = last {
        candidate["finishReason"] = json!("STOP");
        out["usageMetadata"] = usage(u);
    }
    out["candidates"] = json!([candidate]);
    out
}

fn call_part(turn: &Turn) -> Option<Value> {
    match turn {
        Turn::ToolCall(c) => {
            let args: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
            Some(json!({ "functionCall": { "name": c.name, "args": args } }))
        }
        Turn::Text(_) => None,
    }
}

/// A non-streamed answer.
pub(crate) fn response(turn: &Turn, meta: &Meta) -> Bytes {
    let parts = match turn {
        Turn::Text(t) => json!([{ "text": t.text }]),
        Turn::ToolCall(_) => json!([call_part(turn)]),
    };
    Bytes::from(chunk(parts, meta, Some(turn.usage())).to_string())
}

/// The chunks of a streamed answer.
fn chunks(turn: &Turn, meta: &Meta) -> Vec<Value> {
    match turn {
        Turn::Text(t) => {
            let pieces = t.pieces();
            let n = pieces.len();
            if n == 0 {
                return vec![chunk(json!([{ "text": "" }]), meta, Some(t.usage))];
            }
            pieces
                .into_iter()
                .enumerate()
                .map(|(i, piece)| {
                    chunk(
                        json!([{ "text": piece }]),
                        meta,
                        (i + 1 == n).then_some(t.usage),
                    )
                })
                .collect()
        }
        Turn::ToolCall(_) => vec![chunk(json!([call_part(turn)]), meta, Some(turn.usage()))],
    }
}

/// `:streamGenerateContent?alt=sse`: one `data:` event a chunk.
pub(crate) fn stream(turn: &Turn, meta: &Meta) -> Vec<Bytes> {
    chunks(turn, meta)
        .into_iter()
        .map(|c| Bytes::from(format!("data: {c}\r\n\r\n")))
        .collect()
}

/// `:streamGenerateContent` without `alt=sse`: the chunks as one JSON array.
pub(crate) fn array(turn: &Turn, meta: &Meta) -> Bytes {
    Bytes::from(Value::Array(chunks(turn, meta)).to_string())
}

/// `{"error": {"code", "message", "status"}}` with the gRPC status name Gemini gives `code`.
pub(crate) fn error(code: u16, message: &str) -> Bytes {
    let status = match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ if code < 500 => "FAILED_PRECONDITION",
        _ => "INTERNAL",
    };
    Bytes::from(
        json!({ "error": { "code": code, "message": message, "status": status } }).to_string(),
    )
}

/// A JSON body cut off mid-way.
pub(crate) const MALFORMED_JSON: &str = r#"{"candidates": [{"content": {"parts": [{"#;

/// A stream whose first event is not valid JSON.
pub(crate) fn malformed_stream() -> Vec<Bytes> {
    vec![Bytes::from_static(
        b"data: {\"candidates\": [{\"content\n\n",
    )]
}
