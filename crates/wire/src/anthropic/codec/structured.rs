//! Structured output for Anthropic, which has no `response_format`: the requested JSON shape
//! becomes a tool the model is made to call (its schema the tool's `input_schema`), and the
//! model's call to that tool is turned back into plain JSON text — whole ([`unwrap_response`])
//! or streamed ([`Unwrapper`], `input_json_delta` → text deltas) — with stop reason `stop`.
//!
//! - `json_schema`: a tool named after the schema (or `json_output` when that name is not a
//!   valid tool name or is one of the request's own tools).
//! - `json_object`: a tool `json_output` whose schema is any JSON object.
//! - The tool is forced (`tool_choice` of that tool, one call) when the request has no tools of
//!   its own; when it has, the model must call one of them or the output tool (`any`), so it
//!   can still use its tools first. Extended thinking forbids a forced tool: there the choice
//!   stays `auto` and a system line asks for the tool.
//! - When the output tool is called, other text of a whole answer is dropped (the answer is
//!   the JSON); a stream passes through whatever text came before the call.

use serde_json::{Value, json};

use crate::canonical::{self, Block, BlockKind, Delta, ResponseFormat, StopReason, StreamEvent};

/// The name of the output tool when the schema's own name cannot be used.
pub const DEFAULT_TOOL: &str = "json_output";

/// The tool standing for a request's structured output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTool {
    pub name: String,
    pub description: String,
    pub schema: Value,
}

/// The output tool of a request that asks for JSON (`json_schema` or `json_object`).
pub fn output_tool(req: &canonical::Request) -> Option<OutputTool> {
    let taken = |name: &str| req.tools.iter().any(|t| t.name == name);
    match req.response_format.as_ref()? {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(OutputTool {
            name: DEFAULT_TOOL.into(),
            description: "Give the answer as a JSON object.".into(),
            schema: json!({ "type": "object", "additionalProperties": true }),
        }),
        ResponseFormat::JsonSchema {
            name,
            description,
            schema,
            ..
        } => {
            let usable = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !taken(name);
            let name = if usable {
                name.clone()
            } else {
                DEFAULT_TOOL.into()
            };
            let description = description.clone().unwrap_or_else(|| {
                "Give the answer: the tool's input is the answer, in this JSON schema.".into()
            });
            let schema = if schema.is_object() {
                schema.clone()
            } else {
                json!({ "type": "object" })
            };
            Some(OutputTool {
                name,
                description,
                schema,
            })
        }
    }
}

/// How the model is made to call the output tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Forcing {
    /// `tool_choice` of the output tool.
    Tool,
    /// `tool_choice: any` (the request has tools of its own).
    Any,
    /// `auto` plus a system line (extended thinking forbids forcing).
    Ask,
}

pub(crate) fn forcing(req: &canonical::Request) -> Forcing {
    let thinking = req.reasoning.as_ref().and_then(|r| r.budget()).is_some();
    let own_tools = !req.tools.is_empty() && req.tool_choice != Some(canonical::ToolChoice::None);
    if thinking {
        Forcing::Ask
    } else if own_tools {
        Forcing::Any
    } else {
        Forcing::Tool
    }
}

/// The system line asking for the tool when it cannot be forced.
pub(crate) fn ask_line(tool: &str) -> String {
    format!("Give your final answer by calling the `{tool}` tool; its input is the answer.")
}

/// A whole answer: the output tool's call becomes the text of the answer.
pub fn unwrap_response(resp: &mut canonical::Response, tool: &str) {
    let called = resp
        .content
        .iter()
        .any(|b| matches!(b, Block::ToolUse(u) if u.name == tool));
    if !called {
        return;
    }
    resp.content.retain(|b| !matches!(b, Block::Text(_)));
    for block in &mut resp.content {
        if let Block::ToolUse(u) = block
            && u.name == tool
        {
            *block = Block::Text(canonical::Text::plain(std::mem::take(&mut u.arguments)));
        }
    }
    let other_calls = resp.content.iter().any(|b| matches!(b, Block::ToolUse(_)));
    if resp.stop_reason == Some(StopReason::ToolCalls) && !other_calls {
        resp.stop_reason = Some(StopReason::Stop);
    }
}

/// A streamed answer: the output tool's block becomes a text block, its argument pieces text
/// deltas, and the stop reason `stop` unless another tool was called.
#[derive(Debug, Clone)]
pub struct Unwrapper {
    tool: String,
    /// Canonical indices of the output tool's blocks.
    unwrapped: Vec<usize>,
    other_calls: bool,
}

impl Unwrapper {
    pub fn new(tool: impl Into<String>) -> Self {
        Self {
            tool: tool.into(),
            unwrapped: Vec::new(),
            other_calls: false,
        }
    }

    /// Rewrites one event in place.
    pub fn map(&mut self, event: &mut StreamEvent) {
        match event {
            StreamEvent::BlockStart { index, kind } => {
                if let BlockKind::ToolUse { name, .. } = kind {
                    if *name == self.tool {
                        self.unwrapped.push(*index);
                        *kind = BlockKind::Text;
                    } else {
                        self.other_calls = true;
                    }
                }
            }
            StreamEvent::Delta { index, delta } if self.unwrapped.contains(index) => {
                if let Delta::ToolArguments(piece) = delta {
                    *delta = Delta::Text(std::mem::take(piece));
                }
            }
            StreamEvent::Finish { reason, .. }
                if *reason == StopReason::ToolCalls
                    && !self.unwrapped.is_empty()
                    && !self.other_calls =>
            {
                *reason = StopReason::Stop;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use serde_json::json;

    use super::*;
    use crate::anthropic::codec::{decode_response, encode_request};
    use crate::canonical::{Message, Reasoning, Role, ToolUse};

    fn schema_request() -> canonical::Request {
        canonical::Request {
            model: "m".into(),
            messages: vec![Message::text(Role::User, "name a city")],
            response_format: Some(ResponseFormat::JsonSchema {
                name: "city".into(),
                description: None,
                schema: json!({"type": "object", "properties": {"name": {"type": "string"}}}),
                strict: Some(true),
            }),
            ..canonical::Request::default()
        }
    }

    fn encoded(req: &canonical::Request) -> Value {
        serde_json::to_value(encode_request(req, 100)).unwrap()
    }

    #[test]
    fn a_json_schema_becomes_a_forced_tool() {
        let sent = encoded(&schema_request());
        assert_eq!(sent["tools"][0]["name"], "city");
        assert_eq!(
            sent["tools"][0]["input_schema"],
            json!({"type": "object", "properties": {"name": {"type": "string"}}})
        );
        assert_eq!(
            sent["tool_choice"],
            json!({"type": "tool", "name": "city", "disable_parallel_tool_use": true})
        );
        assert!(sent.get("system").is_none());
    }

    #[test]
    fn with_tools_of_its_own_the_model_must_call_one_of_them_or_answer() {
        let mut req = schema_request();
        req.tools.push(canonical::Tool {
            name: "city".into(),
            parameters: json!({"type": "object"}),
            ..canonical::Tool::default()
        });
        let sent = encoded(&req);
        assert_eq!(sent["tools"][0]["name"], "city");
        assert_eq!(
            sent["tools"][1]["name"], DEFAULT_TOOL,
            "the schema's name is taken by a tool of the request"
        );
        assert_eq!(sent["tool_choice"], json!({"type": "any"}));
    }

    #[test]
    fn with_thinking_the_tool_is_asked_for_not_forced() {
        let mut req = schema_request();
        req.reasoning = Some(Reasoning::Budget(2048));
        req.system = vec![canonical::Text::plain("be brief")];
        let sent = encoded(&req);
        assert_eq!(sent["tool_choice"], json!({"type": "auto"}));
        assert_eq!(sent["system"][0]["text"], "be brief");
        assert_eq!(sent["system"][1]["text"], ask_line("city"));
    }

    #[test]
    fn json_object_mode_is_a_tool_taking_any_object() {
        let mut req = schema_request();
        req.response_format = Some(ResponseFormat::JsonObject);
        let sent = encoded(&req);
        assert_eq!(sent["tools"][0]["name"], DEFAULT_TOOL);
        assert_eq!(sent["tools"][0]["input_schema"]["type"], "object");
        assert_eq!(sent["tool_choice"]["name"], DEFAULT_TOOL);
        req.response_format = Some(ResponseFormat::Text);
        assert!(encoded(&req).get("tools").is_none());
    }

    #[test]
    fn the_tool_call_of_a_whole_answer_becomes_its_text() {
        let wire: crate::anthropic::MessagesResponse = serde_json::from_value(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [
                {"type": "text", "text": "Here you go:"},
                {"type": "tool_use", "id": "t1", "name": "city", "input": {"name": "Paris"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 3, "output_tokens": 4}
        }))
        .unwrap();
        let mut resp = decode_response(&wire);
        unwrap_response(&mut resp, "city");
        assert_eq!(
            resp.content,
            vec![Block::Text(canonical::Text::plain(r#"{"name":"Paris"}"#))]
        );
        assert_eq!(resp.stop_reason, Some(StopReason::Stop));
    }

    #[test]
    fn other_tool_calls_are_left_alone() {
        let call = |name: &str| {
            Block::ToolUse(ToolUse {
                id: "t".into(),
                name: name.into(),
                arguments: "{}".into(),
                cache_control: None,
            })
        };
        let mut resp = canonical::Response {
            content: vec![call("search")],
            stop_reason: Some(StopReason::ToolCalls),
            ..canonical::Response::default()
        };
        unwrap_response(&mut resp, "city");
        assert_eq!(resp.content, vec![call("search")]);
        assert_eq!(resp.stop_reason, Some(StopReason::ToolCalls));
    }

    #[test]
    fn a_streamed_tool_call_becomes_text_deltas() {
        let mut events = [
            StreamEvent::Start {
                id: "m".into(),
                model: "m".into(),
            },
            StreamEvent::BlockStart {
                index: 0,
                kind: BlockKind::ToolUse {
                    id: "t1".into(),
                    name: "city".into(),
                },
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::ToolArguments(r#"{"name":"#.into()),
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::ToolArguments(r#""Paris"}"#.into()),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::Finish {
                reason: StopReason::ToolCalls,
                stop_sequence: None,
            },
            StreamEvent::End,
        ];
        let mut u = Unwrapper::new("city");
        events.iter_mut().for_each(|e| u.map(e));
        assert_eq!(
            events[1],
            StreamEvent::BlockStart {
                index: 0,
                kind: BlockKind::Text
            }
        );
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Delta {
                    delta: Delta::Text(t),
                    ..
                } => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, r#"{"name":"Paris"}"#);
        assert!(matches!(
            events[5],
            StreamEvent::Finish {
                reason: StopReason::Stop,
                ..
            }
        ));
    }
}
