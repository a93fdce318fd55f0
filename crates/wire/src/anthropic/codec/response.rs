//! Messages responses ↔ [`canonical::Response`], and stop reasons both ways.

use serde_json::Map;

use super::request::input_object;
use super::{decode_usage, encode_usage};
use crate::anthropic::{
    ContentBlock, MessagesResponse, RedactedThinkingBlock, StopReason as WireStop, TextBlock,
    ThinkingBlock, ToolUseBlock,
};
use crate::canonical::{self, Block, StopReason, Text, Thinking, ToolUse};

/// The canonical stop reason of an Anthropic one.
pub fn stop_reason(reason: WireStop) -> StopReason {
    match reason {
        WireStop::EndTurn | WireStop::StopSequence | WireStop::Unknown => StopReason::Stop,
        WireStop::MaxTokens | WireStop::ModelContextWindowExceeded => StopReason::Length,
        WireStop::ToolUse => StopReason::ToolCalls,
        WireStop::PauseTurn => StopReason::PauseTurn,
        WireStop::Refusal => StopReason::Refusal,
    }
}

/// The Anthropic stop reason of a canonical one: `stop_sequence` when a stop sequence
/// ended generation; a content filter is reported as a refusal.
pub fn wire_stop_reason(reason: StopReason, stop_sequence: Option<&str>) -> WireStop {
    match reason {
        StopReason::Stop if stop_sequence.is_some() => WireStop::StopSequence,
        StopReason::Stop => WireStop::EndTurn,
        StopReason::Length => WireStop::MaxTokens,
        StopReason::ToolCalls => WireStop::ToolUse,
        StopReason::ContentFilter | StopReason::Refusal => WireStop::Refusal,
        StopReason::PauseTurn => WireStop::PauseTurn,
    }
}

/// Decodes a message. Server-tool blocks (web search and the like) have no canonical form
/// and are left out.
pub fn decode_response(resp: &MessagesResponse) -> canonical::Response {
    let content = resp
        .content
        .iter()
        .filter_map(|block| {
            Some(match block {
                ContentBlock::Text(t) => Block::Text(Text::plain(t.text.clone())),
                ContentBlock::ToolUse(u) => Block::ToolUse(ToolUse {
                    id: u.id.clone(),
                    name: u.name.clone(),
                    arguments: u.input.to_string(),
                    cache_control: None,
                }),
                ContentBlock::Thinking(t) => Block::Thinking(Thinking {
                    text: t.thinking.clone(),
                    signature: (!t.signature.is_empty()).then(|| t.signature.clone()),
                }),
                ContentBlock::RedactedThinking(r) => Block::RedactedThinking {
                    data: r.data.clone(),
                },
                ContentBlock::Image(_) | ContentBlock::ToolResult(_) | ContentBlock::Other(_) => {
                    return None;
                }
            })
        })
        .collect();
    canonical::Response {
        id: resp.id.clone(),
        model: resp.model.clone(),
        content,
        stop_reason: resp.stop_reason.map(stop_reason),
        stop_sequence: resp.stop_sequence.clone(),
        usage: decode_usage(&resp.usage),
    }
}

/// A message id as Anthropic writes them: `msg_…`.
pub(crate) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else {
        format!("msg_{id}")
    }
}

/// Encodes a canonical response as a message.
pub fn encode_response(resp: &canonical::Response) -> MessagesResponse {
    let mut out = MessagesResponse::new(message_id(&resp.id), resp.model.clone());
    out.content = resp
        .content
        .iter()
        .filter_map(|block| {
            Some(match block {
                Block::Text(t) => ContentBlock::Text(TextBlock {
                    text: t.text.clone(),
                    ..Default::default()
                }),
                Block::ToolUse(u) => ContentBlock::ToolUse(ToolUseBlock {
                    id: u.id.clone(),
                    name: u.name.clone(),
                    input: input_object(&u.arguments),
                    cache_control: None,
                    extra: Map::new(),
                }),
                Block::Thinking(t) => ContentBlock::Thinking(ThinkingBlock {
                    thinking: t.text.clone(),
                    signature: t.signature.clone().unwrap_or_default(),
                    extra: Map::new(),
                }),
                Block::RedactedThinking { data } => {
                    ContentBlock::RedactedThinking(RedactedThinkingBlock {
                        data: data.clone(),
                        extra: Map::new(),
                    })
                }
                Block::Image(_) | Block::ToolResult(_) => return None,
            })
        })
        .collect();
    out.stop_reason = resp
        .stop_reason
        .map(|r| wire_stop_reason(r, resp.stop_sequence.as_deref()));
    out.stop_sequence = resp.stop_sequence.clone();
    out.usage = encode_usage(&resp.usage);
    out
}
