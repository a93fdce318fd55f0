//! Ollama `/api/chat` answer shapes: one object (`done: true`), NDJSON stream lines (one a
//! text piece, a tool call whole with its arguments as an object, then the `done` line with
//! the counts) and the error object. Usage: `prompt_eval_count` is every prompt token (cached
//! included), `eval_count` every output token.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::server::Meta;
use crate::turn::Turn;

const CREATED_AT: &str = "2026-01-01T00:00:00.000000Z";

fn line(meta: &Meta, message: Value, done: Option<&Turn>) -> Value {
    let mut out = json!({
        "model": meta.model, "created_at": CREATED_AT, "message": message, "done": done.is_some(),
    });
    if let Some(turn) = done {
        let u = turn.usage();
        out["done_reason"] = json!("stop");
        out["total_duration"] = json!(1_000_000);
        out["prompt_eval_count"] = json!(u.prompt_tokens);
        out["eval_count"] = json!(u.completion_tokens);
    }
    out
}

fn tool_calls(turn: &Turn) -> Value {
    match turn {
        Turn::ToolCall(c) => {
            let args: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
            json!([{ "function": { "name": c.name, "arguments": args } }])
        }
        Turn::Text(_) => json!([]),
    }
}

/// A non-streamed answer.
pub(crate) fn response(turn: &Turn, meta: &Meta) -> Bytes {
    let message = match turn {
        Turn::Text(t) => json!({ "role": "assistant", "content": t.text }),
        Turn::ToolCall(_) => {
            json!({ "role": "assistant", "content": "", "tool_calls": tool_calls(turn) })
        }
    };
    Bytes::from(line(meta, message, Some(turn)).to_string())
}

/// The NDJSON lines of a streamed answer.
pub(crate) fn stream(turn: &Turn, meta: &Meta) -> Vec<Bytes> {
    let mut lines: Vec<Value> = match turn {
        Turn::Text(t) => t
            .pieces()
            .into_iter()
            .map(|piece| line(meta, json!({ "role": "assistant", "content": piece }), None))
            .collect(),
        Turn::ToolCall(_) => vec![line(
            meta,
            json!({ "role": "assistant", "content": "", "tool_calls": tool_calls(turn) }),
            None,
        )],
    };
    lines.push(line(
        meta,
        json!({ "role": "assistant", "content": "" }),
        Some(turn),
    ));
    lines
        .into_iter()
        .map(|l| Bytes::from(format!("{l}\n")))
        .collect()
}

/// `{"error": "…"}`.
pub(crate) fn error(message: &str) -> Bytes {
    Bytes::from(json!({ "error": message }).to_string())
}

/// A JSON body cut off mid-way.
pub(crate) const MALFORMED_JSON: &str = r#"{"model": "m", "message": {"#;

/// A stream whose first line is not valid JSON.
pub(crate) const MALFORMED_LINE: &[u8] = b"{\"model\": \"m\", \"message\": {\n";
