//! Response objects ↔ [`canonical::Response`].

use serde_json::Map;

use super::request::{encode_format, encode_tool_choice};
use super::{decode_usage, encode_usage};
use crate::canonical::{self, Block, StopReason, Text, Thinking, ToolUse};
use crate::responses::{
    ContentPart, FunctionCallItem, IncompleteDetails, Item, MessageContent, MessageItem,
    OutputText, ReasoningConfig, ReasoningItem, ResponseObject, SummaryText, TextConfig,
};

/// A response in progress with `id`, echoing the settings of `req` (instructions, tools,
/// sampling, …) the way OpenAI's response objects do.
pub fn base_response(req: &canonical::Request, id: &str, created_at: u64) -> ResponseObject {
    let mut out = ResponseObject::new(id, req.model.clone(), created_at);
    let encoded = super::encode_request(req);
    out.instructions = encoded.instructions;
    out.max_output_tokens = req.sampling.max_tokens;
    out.parallel_tool_calls = req.parallel_tool_calls.unwrap_or(true);
    out.previous_response_id = encoded.previous_response_id;
    out.reasoning = req.reasoning.as_ref().map(|r| ReasoningConfig {
        effort: r.effort().map(str::to_owned),
        summary: None,
        extra: Map::new(),
    });
    out.store = encoded.store.unwrap_or(true);
    out.temperature = req.sampling.temperature;
    out.top_p = req.sampling.top_p;
    out.text = Some(TextConfig {
        format: Some(encode_format(
            req.response_format
                .as_ref()
                .unwrap_or(&canonical::ResponseFormat::Text),
        )),
        extra: Map::new(),
    });
    if let Some(choice) = &req.tool_choice {
        out.tool_choice = encode_tool_choice(choice);
    }
    out.tools = super::tools::encode_tools(&req.tools);
    out.user = req.user.clone();
    out.metadata = encoded.metadata.unwrap_or_default();
    out
}

/// An output item's id: a prefix naming its kind, the response's id, and its position.
pub(crate) fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    let tail = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{tail}_{index}")
}

/// `completed`, or `incomplete` with its reason, for a stop reason.
pub(crate) fn status(reason: Option<StopReason>) -> (&'static str, Option<IncompleteDetails>) {
    let incomplete = |reason: &str| {
        (
            "incomplete",
            Some(IncompleteDetails {
                reason: reason.into(),
            }),
        )
    };
    match reason {
        Some(StopReason::Length) => incomplete("max_output_tokens"),
        Some(StopReason::ContentFilter) => incomplete("content_filter"),
        _ => ("completed", None),
    }
}

pub(crate) fn message_item(id: String, parts: Vec<ContentPart>, status: &str) -> Item {
    Item::Message(MessageItem {
        id: Some(id),
        role: "assistant".into(),
        content: MessageContent::Parts(parts),
        status: Some(status.into()),
    })
}

pub(crate) fn output_text(text: String) -> ContentPart {
    ContentPart::OutputText(OutputText {
        text,
        annotations: Vec::new(),
    })
}

/// Encodes a canonical response onto `base` (from [`base_response`]): consecutive text
/// blocks form one message item, each tool call a `function_call` item, each thinking block a
/// `reasoning` item.
pub fn encode_response(resp: &canonical::Response, base: ResponseObject) -> ResponseObject {
    let mut out = base;
    let mut output: Vec<Item> = Vec::new();
    for block in &resp.content {
        let index = output.len();
        match block {
            Block::Text(t) => {
                if let Some(Item::Message(MessageItem {
                    content: MessageContent::Parts(parts),
                    ..
                })) = output.last_mut()
                {
                    parts.push(output_text(t.text.clone()));
                } else {
                    output.push(message_item(
                        item_id("msg", &out.id, index),
                        vec![output_text(t.text.clone())],
                        "completed",
                    ));
                }
            }
            Block::ToolUse(u) => output.push({
                let (namespace, name) = super::tools::call_name_in(&out.tools, &u.name);
                Item::FunctionCall(FunctionCallItem {
                    id: Some(item_id("fc", &out.id, index)),
                    call_id: u.id.clone(),
                    name,
                    namespace,
                    arguments: u.arguments.clone(),
                    status: Some("completed".into()),
                })
            }),
            Block::Thinking(t) => output.push(Item::Reasoning(ReasoningItem {
                id: Some(item_id("rs", &out.id, index)),
                summary: (!t.text.is_empty())
                    .then(|| SummaryText::new(t.text.clone()))
                    .into_iter()
                    .collect(),
                encrypted_content: t.signature.clone(),
                status: None,
            })),
            Block::RedactedThinking { data } => output.push(Item::Reasoning(ReasoningItem {
                id: Some(item_id("rs", &out.id, index)),
                summary: Vec::new(),
                encrypted_content: Some(data.clone()),
                status: None,
            })),
            Block::Image(_) | Block::ToolResult(_) => {}
        }
    }
    let (status, incomplete) = status(resp.stop_reason);
    out.model.clone_from(&resp.model);
    out.status = status.into();
    out.incomplete_details = incomplete;
    out.output = output;
    out.usage = Some(encode_usage(&resp.usage));
    out
}

/// Decodes a response object. The stop reason is read from its status: a completed response
/// with function calls stopped for them.
pub fn decode_response(resp: &ResponseObject) -> canonical::Response {
    let mut content = Vec::new();
    for item in &resp.output {
        match item {
            Item::Message(m) => match &m.content {
                MessageContent::Text(t) => content.push(Block::Text(Text::plain(t.clone()))),
                MessageContent::Parts(parts) => {
                    content.extend(parts.iter().filter_map(|p| match p {
                        ContentPart::OutputText(t) => {
                            Some(Block::Text(Text::plain(t.text.clone())))
                        }
                        _ => None,
                    }));
                }
            },
            Item::FunctionCall(c) => content.push(Block::ToolUse(ToolUse {
                id: c.call_id.clone(),
                name: match &c.namespace {
                    Some(ns) => super::tools::flat_name(ns, &c.name),
                    None => c.name.clone(),
                },
                arguments: c.arguments.clone(),
                cache_control: None,
            })),
            Item::Reasoning(r) => {
                let text = r
                    .summary
                    .iter()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n\n");
                content.push(match (&r.encrypted_content, text.is_empty()) {
                    (Some(data), true) => Block::RedactedThinking { data: data.clone() },
                    (signature, _) => Block::Thinking(Thinking {
                        text,
                        signature: signature.clone(),
                    }),
                });
            }
            Item::FunctionCallOutput(_) | Item::Other(_) => {}
        }
    }
    let stop_reason = match resp.incomplete_details.as_ref().map(|d| d.reason.as_str()) {
        Some("max_output_tokens") => StopReason::Length,
        Some("content_filter") => StopReason::ContentFilter,
        _ if content.iter().any(|b| matches!(b, Block::ToolUse(_))) => StopReason::ToolCalls,
        _ => StopReason::Stop,
    };
    canonical::Response {
        id: resp.id.clone(),
        model: resp.model.clone(),
        content,
        stop_reason: Some(stop_reason),
        stop_sequence: None,
        usage: resp.usage.as_ref().map(decode_usage).unwrap_or_default(),
    }
}
