//! Chat answers ↔ [`canonical::Response`], stop reasons and usage.

use serde_json::Map;

use super::request::{arguments_value, tool_call_id};
use crate::Usage;
use crate::canonical::{self, Block, StopReason, Text, Thinking, ToolUse};
use crate::ollama::{ChatResponse, Message, Metrics, ToolCall, ToolCallFunction};

/// Ollama's `done_reason` for a canonical stop reason.
pub fn done_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Length => "length",
        StopReason::Stop
        | StopReason::ToolCalls
        | StopReason::ContentFilter
        | StopReason::Refusal
        | StopReason::PauseTurn => "stop",
    }
}

/// The canonical stop reason of an Ollama `done_reason`.
pub fn stop_reason(done_reason: &str) -> StopReason {
    match done_reason {
        "length" => StopReason::Length,
        _ => StopReason::Stop,
    }
}

/// The counts of the last object: every input token, every output token (no durations:
/// the gateway measures those).
pub fn metrics(usage: &Usage) -> Metrics {
    Metrics {
        prompt_eval_count: Some(usage.input + usage.cache_read + usage.cache_write),
        eval_count: Some(usage.output),
        ..Metrics::default()
    }
}

/// The assistant message of canonical blocks: text and thinking concatenated, tool calls
/// with their arguments as objects.
pub(super) fn message(content: &[Block]) -> Message {
    let mut out = Message {
        role: "assistant".into(),
        ..Default::default()
    };
    for block in content {
        match block {
            Block::Text(t) => out.content.push_str(&t.text),
            Block::Thinking(t) => out.thinking.get_or_insert_default().push_str(&t.text),
            Block::ToolUse(u) => out.tool_calls.push(tool_call(&u.name, &u.arguments)),
            Block::Image(_) | Block::ToolResult(_) | Block::RedactedThinking { .. } => {}
        }
    }
    out
}

pub(super) fn tool_call(name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        function: ToolCallFunction {
            name: name.to_owned(),
            arguments: arguments_value(arguments),
            extra: Map::new(),
        },
        extra: Map::new(),
    }
}

/// Encodes a canonical answer as a whole `/api/chat` answer (`done: true`), with the counts
/// and without durations.
pub fn encode_response(resp: &canonical::Response, created_at: &str) -> ChatResponse {
    ChatResponse {
        model: resp.model.clone(),
        created_at: created_at.to_owned(),
        message: message(&resp.content),
        done: true,
        done_reason: Some(done_reason(resp.stop_reason.unwrap_or(StopReason::Stop)).to_owned()),
        metrics: metrics(&resp.usage),
    }
}

/// Decodes a whole `/api/chat` answer. Tool calls get ids as in requests (message 0).
pub fn decode_response(resp: &ChatResponse) -> canonical::Response {
    let m = &resp.message;
    let mut content = Vec::new();
    if let Some(t) = m.thinking.as_ref().filter(|t| !t.is_empty()) {
        content.push(Block::Thinking(Thinking {
            text: t.clone(),
            signature: None,
        }));
    }
    if !m.content.is_empty() {
        content.push(Block::Text(Text::plain(m.content.clone())));
    }
    for (i, call) in m.tool_calls.iter().enumerate() {
        content.push(Block::ToolUse(ToolUse {
            id: tool_call_id(0, i, &call.function.name),
            name: call.function.name.clone(),
            arguments: call.function.arguments.to_string(),
            cache_control: None,
        }));
    }
    let stop = resp.done_reason.as_deref().map(stop_reason);
    canonical::Response {
        id: String::new(),
        model: resp.model.clone(),
        stop_reason: if m.tool_calls.is_empty() {
            stop
        } else {
            stop.map(|s| match s {
                StopReason::Stop => StopReason::ToolCalls,
                other => other,
            })
        },
        content,
        stop_sequence: None,
        usage: Usage {
            input: resp.metrics.prompt_eval_count.unwrap_or(0),
            output: resp.metrics.eval_count.unwrap_or(0),
            ..Usage::default()
        },
    }
}
