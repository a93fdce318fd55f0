//! Chat completion responses ↔ [`canonical::Response`], and finish reasons ↔ stop reasons.

use serde_json::Map;

use crate::Usage;
use crate::canonical::{self, Block, StopReason, Text, Thinking, ToolUse};
use crate::openai::{
    self, ChatCompletionResponse, Choice, FinishReason, FunctionCall, FunctionToolCall,
    ResponseMessage,
};

/// The canonical stop reason of an OpenAI finish reason (unknown values count as `Stop`).
pub fn stop_reason(reason: &FinishReason) -> StopReason {
    match reason {
        FinishReason::Stop => StopReason::Stop,
        FinishReason::Length => StopReason::Length,
        FinishReason::ToolCalls | FinishReason::FunctionCall => StopReason::ToolCalls,
        FinishReason::ContentFilter => StopReason::ContentFilter,
        FinishReason::Other(other) => match other.as_str() {
            "refusal" => StopReason::Refusal,
            "pause_turn" => StopReason::PauseTurn,
            "max_tokens" => StopReason::Length,
            "tool_use" => StopReason::ToolCalls,
            _ => StopReason::Stop,
        },
    }
}

/// The OpenAI finish reason of a canonical stop reason. OpenAI has no refusal or pause:
/// a refusal is reported as `content_filter`, a pause as `stop`.
pub fn finish_reason(reason: StopReason) -> FinishReason {
    match reason {
        StopReason::Stop | StopReason::PauseTurn => FinishReason::Stop,
        StopReason::Length => FinishReason::Length,
        StopReason::ToolCalls => FinishReason::ToolCalls,
        StopReason::ContentFilter | StopReason::Refusal => FinishReason::ContentFilter,
    }
}

/// Decodes a chat completion (its first choice).
pub fn decode_response(resp: &ChatCompletionResponse) -> canonical::Response {
    let mut content = Vec::new();
    let mut stop = None;
    if let Some(choice) = resp.choices.first() {
        let m = &choice.message;
        let reasoning = m
            .reasoning_content
            .as_deref()
            .or_else(|| m.extra.get("reasoning").and_then(serde_json::Value::as_str));
        if let Some(text) = reasoning.filter(|r| !r.is_empty()) {
            content.push(Block::Thinking(Thinking {
                text: text.to_owned(),
                signature: None,
            }));
        }
        if let Some(text) = &m.content {
            content.push(Block::Text(Text::plain(text.clone())));
        }
        if let Some(refusal) = &m.refusal {
            content.push(Block::Text(Text::plain(refusal.clone())));
        }
        for call in m.tool_calls.iter().flatten() {
            if let openai::ToolCall::Function(f) = call {
                content.push(Block::ToolUse(ToolUse {
                    id: f.id.clone(),
                    name: f.function.name.clone(),
                    arguments: f.function.arguments.clone(),
                    cache_control: None,
                }));
            }
        }
        stop = choice.finish_reason.as_ref().map(stop_reason);
    }
    canonical::Response {
        id: resp.id.clone(),
        model: resp.model.clone(),
        content,
        stop_reason: stop,
        stop_sequence: None,
        usage: resp
            .usage
            .as_ref()
            .map(Usage::from_openai)
            .unwrap_or_default(),
    }
}

/// Encodes a canonical response as a chat completion created at `created` (Unix seconds).
pub fn encode_response(resp: &canonical::Response, created: u64) -> ChatCompletionResponse {
    let mut text: Option<String> = None;
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for block in &resp.content {
        match block {
            Block::Text(t) => text.get_or_insert_with(String::new).push_str(&t.text),
            Block::Thinking(t) => reasoning.push_str(&t.text),
            Block::ToolUse(u) => calls.push(openai::ToolCall::Function(FunctionToolCall {
                id: u.id.clone(),
                function: FunctionCall {
                    name: u.name.clone(),
                    arguments: u.arguments.clone(),
                    extra: Map::new(),
                },
                extra: Map::new(),
            })),
            Block::Image(_) | Block::ToolResult(_) | Block::RedactedThinking { .. } => {}
        }
    }
    ChatCompletionResponse {
        id: resp.id.clone(),
        created,
        model: resp.model.clone(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: openai::Role::Assistant,
                content: text,
                tool_calls: (!calls.is_empty()).then_some(calls),
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                ..Default::default()
            },
            finish_reason: resp.stop_reason.map(finish_reason),
            logprobs: None,
            extra: Map::new(),
        }],
        usage: Some(super::encode_usage(&resp.usage)),
        ..Default::default()
    }
}
