//! `GenerateContentResponse` ↔ [`canonical::Response`].

use std::collections::HashMap;

use serde_json::Map;

use super::request::encode_block;
use super::{decode_usage, encode_usage};
use crate::canonical::{self, Block, StopReason, Text, Thinking, ToolUse};
use crate::gemini::{Candidate, Content, GenerateContentResponse};

/// Gemini's `finishReason` for a stop reason. Gemini ends a turn of tool calls with `STOP`.
pub fn finish_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Stop | StopReason::ToolCalls | StopReason::PauseTurn => "STOP",
        StopReason::Length => "MAX_TOKENS",
        StopReason::ContentFilter | StopReason::Refusal => "SAFETY",
    }
}

/// The stop reason for Gemini's `finishReason`; `STOP` after calls is `ToolCalls`.
pub fn stop_reason(reason: &str, has_calls: bool) -> StopReason {
    match reason {
        "MAX_TOKENS" => StopReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            StopReason::ContentFilter
        }
        _ if has_calls => StopReason::ToolCalls,
        _ => StopReason::Stop,
    }
}

/// Decodes an answer (its first candidate).
pub fn decode_response(resp: &GenerateContentResponse) -> canonical::Response {
    let candidate = resp.candidates.first();
    let parts = candidate
        .and_then(|c| c.content.as_ref())
        .map(|c| c.parts.as_slice())
        .unwrap_or_default();
    let mut content = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        if let Some(call) = &p.function_call {
            content.push(Block::ToolUse(ToolUse {
                id: call.id.clone().unwrap_or_else(|| format!("call_0_{i}")),
                name: call.name.clone(),
                arguments: call
                    .args
                    .clone()
                    .unwrap_or_else(|| serde_json::Value::Object(Map::new()))
                    .to_string(),
                cache_control: None,
            }));
        } else if let Some(text) = &p.text {
            content.push(if p.thought == Some(true) {
                Block::Thinking(Thinking {
                    text: text.clone(),
                    signature: p.thought_signature.clone(),
                })
            } else {
                Block::Text(Text::plain(text.clone()))
            });
        }
    }
    let has_calls = content.iter().any(|b| matches!(b, Block::ToolUse(_)));
    canonical::Response {
        id: resp.response_id.clone().unwrap_or_default(),
        model: resp.model_version.clone().unwrap_or_default(),
        stop_reason: candidate
            .and_then(|c| c.finish_reason.as_deref())
            .map(|r| stop_reason(r, has_calls)),
        content,
        stop_sequence: None,
        usage: resp
            .usage_metadata
            .as_ref()
            .map(decode_usage)
            .unwrap_or_default(),
    }
}

/// Encodes an answer as one candidate.
pub fn encode_response(resp: &canonical::Response) -> GenerateContentResponse {
    let mut names = HashMap::new();
    let parts = resp
        .content
        .iter()
        .filter_map(|b| encode_block(b, &mut names))
        .collect();
    GenerateContentResponse {
        candidates: vec![Candidate {
            content: Some(Content {
                role: Some("model".into()),
                parts,
            }),
            finish_reason: resp.stop_reason.map(|r| finish_reason(r).to_owned()),
            index: Some(0),
            extra: Map::new(),
        }],
        usage_metadata: Some(encode_usage(&resp.usage)),
        model_version: Some(resp.model.clone()),
        response_id: Some(resp.id.clone()),
        extra: Map::new(),
    }
}
