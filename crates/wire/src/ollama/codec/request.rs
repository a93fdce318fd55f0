//! Chat and generate requests ↔ [`canonical::Request`].

use serde_json::{Map, Value};

use crate::Dialect;
use crate::canonical::{
    self, Block, DecodeError, Image, ImageSource, Message as CMessage, Passthrough, Reasoning,
    ResponseFormat, Role, Sampling, Text, Thinking, Tool as CTool, ToolResult, ToolResultContent,
    ToolUse,
};
use crate::ollama::{
    ChatRequest, FunctionDef, GenerateRequest, Message, Options, Tool, ToolCall, ToolCallFunction,
};

/// The passthrough key that marks a request decoded from `/api/generate` (its answer is
/// rendered as generate's, not chat's). Not an Ollama field.
const ENDPOINT: &str = "ollama.endpoint";

/// Whether `request` came from `/api/generate`.
pub fn is_generate(request: &canonical::Request) -> bool {
    request
        .passthrough
        .for_dialect(Dialect::Ollama)
        .and_then(|f| f.get(ENDPOINT))
        .is_some_and(|v| v == "generate")
}

/// The id given to tool call `index` of message `message`.
pub fn tool_call_id(message: usize, index: usize, name: &str) -> String {
    let name: String = name
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("call_{message}_{index}_{name}")
}

/// The media type of base64 image bytes, read off their first bytes (PNG when unknown).
fn media_type(data: &str) -> &'static str {
    if data.starts_with("/9j/") {
        "image/jpeg"
    } else if data.starts_with("R0lGOD") {
        "image/gif"
    } else if data.starts_with("UklGR") {
        "image/webp"
    } else {
        "image/png"
    }
}

fn image(data: &str) -> Image {
    // A data URL is accepted too: some clients send one.
    let source = match data
        .strip_prefix("data:")
        .and_then(|r| r.split_once(";base64,"))
    {
        Some((media_type, data)) => ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        },
        None => ImageSource::Base64 {
            media_type: media_type(data).to_owned(),
            data: data.to_owned(),
        },
    };
    Image {
        source,
        detail: None,
        cache_control: None,
    }
}

fn sampling(options: Option<&Options>) -> Sampling {
    let Some(o) = options else {
        return Sampling::default();
    };
    Sampling {
        max_tokens: o
            .num_predict
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0),
        temperature: o.temperature,
        top_p: o.top_p,
        top_k: o.top_k,
        stop: o.stop.clone(),
        seed: o.seed,
        presence_penalty: o.presence_penalty,
        frequency_penalty: o.frequency_penalty,
    }
}

fn response_format(format: Option<&Value>) -> Result<Option<ResponseFormat>, DecodeError> {
    Ok(match format {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s == "json" => Some(ResponseFormat::JsonObject),
        Some(schema @ Value::Object(_)) => Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            description: None,
            schema: schema.clone(),
            strict: None,
        }),
        Some(_) => {
            return Err(DecodeError::new(
                "format",
                "expected \"json\" or a JSON Schema object",
            ));
        }
    })
}

fn reasoning(think: Option<&Value>) -> Result<Option<Reasoning>, DecodeError> {
    Ok(match think {
        None | Some(Value::Null) => None,
        Some(Value::Bool(true)) => Some(Reasoning::Effort("medium".into())),
        Some(Value::Bool(false)) => Some(Reasoning::Disabled),
        Some(Value::String(s)) if matches!(s.as_str(), "low" | "medium" | "high") => {
            Some(Reasoning::Effort(s.clone()))
        }
        Some(_) => {
            return Err(DecodeError::new(
                "think",
                "expected true, false, \"low\", \"medium\" or \"high\"",
            ));
        }
    })
}

fn tools(tools: &[Tool]) -> Vec<CTool> {
    tools
        .iter()
        .map(|t| CTool {
            name: t.function.name.clone(),
            description: t.function.description.clone(),
            parameters: if t.function.parameters.is_null() {
                serde_json::json!({"type": "object", "properties": {}})
            } else {
                t.function.parameters.clone()
            },
            strict: None,
            cache_control: None,
            namespace: None,
        })
        .collect()
}

/// Fields without a canonical place, for the passthrough bag.
fn leftovers(
    extra: &Map<String, Value>,
    options: Option<&Options>,
    keep_alive: Option<&Value>,
) -> Map<String, Value> {
    let mut fields = extra.clone();
    if let Some(o) = options.filter(|o| !o.extra.is_empty()) {
        fields.insert("options".into(), Value::Object(o.extra.clone()));
    }
    if let Some(k) = keep_alive {
        fields.insert("keep_alive".into(), k.clone());
    }
    fields
}

/// A tool call the latest assistant turn made, and whether a result answered it.
struct Pending {
    id: String,
    name: String,
    answered: bool,
}

/// Decodes a `/api/chat` request.
pub fn decode_chat(req: &ChatRequest) -> Result<canonical::Request, DecodeError> {
    let mut system = Vec::new();
    let mut messages = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    for (m, msg) in req.messages.iter().enumerate() {
        let field = |what: &str| format!("messages[{m}]{what}");
        match msg.role.as_str() {
            "system" if messages.is_empty() => system.push(Text::plain(msg.content.clone())),
            "system" => messages.push(CMessage::text(Role::System, msg.content.clone())),
            "user" => {
                let mut content = Vec::new();
                if !msg.content.is_empty() || msg.images.is_empty() {
                    content.push(Block::Text(Text::plain(msg.content.clone())));
                }
                content.extend(msg.images.iter().map(|i| Block::Image(image(i))));
                messages.push(CMessage {
                    role: Role::User,
                    content,
                });
            }
            "assistant" => {
                let mut content = Vec::new();
                if let Some(t) = msg.thinking.as_ref().filter(|t| !t.is_empty()) {
                    content.push(Block::Thinking(Thinking {
                        text: t.clone(),
                        signature: None,
                    }));
                }
                if !msg.content.is_empty() || msg.tool_calls.is_empty() {
                    content.push(Block::Text(Text::plain(msg.content.clone())));
                }
                pending.clear();
                for (i, call) in msg.tool_calls.iter().enumerate() {
                    let f = &call.function;
                    if f.name.is_empty() {
                        return Err(DecodeError::new(
                            field(&format!(".tool_calls[{i}].function.name")),
                            "a tool call needs a name",
                        ));
                    }
                    let arguments = match &f.arguments {
                        Value::Null => "{}".to_owned(),
                        // Some clients send the arguments as JSON text: kept as they are.
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let id = tool_call_id(m, i, &f.name);
                    pending.push(Pending {
                        id: id.clone(),
                        name: f.name.clone(),
                        answered: false,
                    });
                    content.push(Block::ToolUse(ToolUse {
                        id,
                        name: f.name.clone(),
                        arguments,
                        cache_control: None,
                    }));
                }
                messages.push(CMessage {
                    role: Role::Assistant,
                    content,
                });
            }
            "tool" => {
                let slot = match &msg.tool_name {
                    Some(name) => pending.iter_mut().find(|p| !p.answered && &p.name == name),
                    None => pending.iter_mut().find(|p| !p.answered),
                };
                let Some(slot) = slot else {
                    return Err(DecodeError::new(
                        field(""),
                        match &msg.tool_name {
                            Some(name) => format!(
                                "a tool result for '{name}' answers no tool call of the \
                                 assistant turn before it"
                            ),
                            None => "a tool result answers no tool call of the assistant turn \
                                     before it"
                                .to_owned(),
                        },
                    ));
                };
                slot.answered = true;
                let mut content = vec![ToolResultContent::Text(Text::plain(msg.content.clone()))];
                content.extend(
                    msg.images
                        .iter()
                        .map(|i| ToolResultContent::Image(image(i))),
                );
                messages.push(CMessage {
                    role: Role::User,
                    content: vec![Block::ToolResult(ToolResult {
                        tool_use_id: slot.id.clone(),
                        content,
                        is_error: false,
                        cache_control: None,
                    })],
                });
            }
            other => {
                return Err(DecodeError::new(
                    field(".role"),
                    format!("unknown role '{other}': expected system, user, assistant or tool"),
                ));
            }
        }
    }
    Ok(canonical::Request {
        model: req.model.clone(),
        system,
        messages,
        tools: tools(&req.tools),
        tool_choice: None,
        parallel_tool_calls: None,
        response_format: response_format(req.format.as_ref())?,
        reasoning: reasoning(req.think.as_ref())?,
        sampling: sampling(req.options.as_ref()),
        stream: req.stream.unwrap_or(true),
        user: None,
        passthrough: Passthrough::from(
            Dialect::Ollama,
            leftovers(&req.extra, req.options.as_ref(), req.keep_alive.as_ref()),
        ),
    })
}

/// Decodes a `/api/generate` request: `system` is the system prompt, `prompt` and `images`
/// one user turn.
pub fn decode_generate(req: &GenerateRequest) -> Result<canonical::Request, DecodeError> {
    if req.prompt.is_empty() && req.images.is_empty() {
        return Err(DecodeError::new("prompt", "a non-empty prompt is required"));
    }
    let mut content = Vec::new();
    if !req.prompt.is_empty() {
        content.push(Block::Text(Text::plain(req.prompt.clone())));
    }
    content.extend(req.images.iter().map(|i| Block::Image(image(i))));
    let mut fields = leftovers(&req.extra, req.options.as_ref(), req.keep_alive.as_ref());
    fields.insert(ENDPOINT.into(), Value::from("generate"));
    Ok(canonical::Request {
        model: req.model.clone(),
        system: req
            .system
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| Text::plain(s.clone()))
            .collect(),
        messages: vec![CMessage {
            role: Role::User,
            content,
        }],
        response_format: response_format(req.format.as_ref())?,
        reasoning: reasoning(req.think.as_ref())?,
        sampling: sampling(req.options.as_ref()),
        stream: req.stream.unwrap_or(true),
        passthrough: Passthrough::from(Dialect::Ollama, fields),
        ..Default::default()
    })
}

fn image_data(i: &Image) -> String {
    match &i.source {
        ImageSource::Base64 { data, .. } => data.clone(),
        ImageSource::Url(url) => url.clone(),
    }
}

fn text_of(blocks: &[Block]) -> String {
    blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect()
}

/// The arguments as an object (`{}` when they are not JSON).
pub(super) fn arguments_value(arguments: &str) -> Value {
    serde_json::from_str(arguments).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// Encodes a canonical request as a `/api/chat` request.
pub fn encode_chat(req: &canonical::Request) -> ChatRequest {
    let mut messages: Vec<Message> = req
        .system
        .iter()
        .map(|t| Message {
            role: "system".into(),
            content: t.text.clone(),
            ..Default::default()
        })
        .collect();
    let mut names = std::collections::HashMap::new();
    for msg in &req.messages {
        match msg.role {
            Role::System => messages.push(Message {
                role: "system".into(),
                content: text_of(&msg.content),
                ..Default::default()
            }),
            Role::Assistant => {
                let mut out = Message {
                    role: "assistant".into(),
                    content: text_of(&msg.content),
                    ..Default::default()
                };
                for b in &msg.content {
                    match b {
                        Block::Thinking(t) => {
                            out.thinking.get_or_insert_default().push_str(&t.text);
                        }
                        Block::ToolUse(u) => {
                            names.insert(u.id.clone(), u.name.clone());
                            out.tool_calls.push(ToolCall {
                                function: ToolCallFunction {
                                    name: u.name.clone(),
                                    arguments: arguments_value(&u.arguments),
                                    extra: Map::new(),
                                },
                                extra: Map::new(),
                            });
                        }
                        _ => {}
                    }
                }
                messages.push(out);
            }
            Role::User => {
                let mut user = Message {
                    role: "user".into(),
                    ..Default::default()
                };
                for b in &msg.content {
                    match b {
                        Block::Text(t) => user.content.push_str(&t.text),
                        Block::Image(i) => user.images.push(image_data(i)),
                        Block::ToolResult(r) => {
                            let mut tool = Message {
                                role: "tool".into(),
                                tool_name: names.get(&r.tool_use_id).cloned(),
                                ..Default::default()
                            };
                            for c in &r.content {
                                match c {
                                    ToolResultContent::Text(t) => tool.content.push_str(&t.text),
                                    ToolResultContent::Image(i) => tool.images.push(image_data(i)),
                                }
                            }
                            messages.push(tool);
                        }
                        _ => {}
                    }
                }
                // A turn of only tool results has become `tool` messages.
                let only_results = msg
                    .content
                    .iter()
                    .all(|b| matches!(b, Block::ToolResult(_)))
                    && !msg.content.is_empty();
                if !only_results || !user.content.is_empty() || !user.images.is_empty() {
                    messages.push(user);
                }
            }
        }
    }
    let passthrough = req.passthrough.for_dialect(Dialect::Ollama);
    let mut extra = passthrough.cloned().unwrap_or_default();
    extra.remove(ENDPOINT);
    let option_extra = match extra.remove("options") {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    let keep_alive = extra.remove("keep_alive");
    let s = &req.sampling;
    let options = Options {
        temperature: s.temperature,
        top_p: s.top_p,
        top_k: s.top_k,
        num_predict: s.max_tokens.and_then(|n| i64::try_from(n).ok()),
        stop: s.stop.clone(),
        seed: s.seed,
        presence_penalty: s.presence_penalty,
        frequency_penalty: s.frequency_penalty,
        extra: option_extra,
    };
    ChatRequest {
        model: req.model.clone(),
        messages,
        tools: req
            .tools
            .iter()
            .map(|t| Tool {
                kind: "function".into(),
                function: FunctionDef {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    parameters: t.parameters.clone(),
                },
            })
            .collect(),
        format: match &req.response_format {
            None | Some(ResponseFormat::Text) => None,
            Some(ResponseFormat::JsonObject) => Some(Value::from("json")),
            Some(ResponseFormat::JsonSchema { schema, .. }) => Some(schema.clone()),
        },
        options: (options != Options::default()).then_some(options),
        stream: Some(req.stream),
        think: req.reasoning.as_ref().map(|r| match r {
            Reasoning::Disabled => Value::Bool(false),
            other => Value::from(other.effort().unwrap_or("medium")),
        }),
        keep_alive,
        extra,
    }
}
