//! Responses requests ↔ [`canonical::Request`].

use serde_json::{Map, Value, json};

use crate::Dialect;
use crate::canonical::{
    self, Block, DecodeError, Image, ImageSource, Message, Passthrough, Reasoning, ResponseFormat,
    Role, Sampling, Text, Thinking, Tool, ToolChoice, ToolResult, ToolResultContent, ToolUse,
};
use crate::responses::{
    self, ContentPart, FunctionCallItem, FunctionCallOutputItem, ImagePart, Input, InputText, Item,
    MessageContent, MessageItem, OutputText, ReasoningConfig, ReasoningItem, ResponsesRequest,
    SummaryText, TextConfig,
};

/// Top-level fields kept in the passthrough bag (typed here, but with no canonical place).
const KEPT: [&str; 3] = ["store", "metadata", "previous_response_id"];

/// Decodes a Responses request. Tools are translated as `tools` describes (functions, also
/// in namespaces; hosted web search dropped; others refused); items other than messages,
/// function calls, their outputs and reasoning, and file inputs are refused.
pub fn decode_request(req: &ResponsesRequest) -> Result<canonical::Request, DecodeError> {
    let system = req
        .instructions
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| Text::plain(s.clone()))
        .collect();
    let messages = match &req.input {
        None => Vec::new(),
        Some(Input::Text(text)) => vec![Message::text(Role::User, text.clone())],
        Some(Input::Items(items)) => decode_items(items)?,
    };
    let tools = super::tools::decode_tools(req.tools.as_deref().unwrap_or_default())?;
    let tool_choice = req.tool_choice.as_ref().map(tool_choice).transpose()?;
    let response_format = req
        .text
        .as_ref()
        .and_then(|t| t.format.as_ref())
        .map(response_format)
        .transpose()?;
    let mut fields = req.extra.clone();
    if let Some(store) = req.store {
        fields.insert("store".into(), Value::from(store));
    }
    if let Some(metadata) = &req.metadata {
        fields.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    if let Some(id) = &req.previous_response_id {
        fields.insert("previous_response_id".into(), Value::from(id.clone()));
    }
    Ok(canonical::Request {
        model: req.model.clone(),
        system,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls: req.parallel_tool_calls,
        response_format,
        reasoning: req
            .reasoning
            .as_ref()
            .and_then(|r| r.effort.clone())
            .map(Reasoning::Effort),
        sampling: Sampling {
            max_tokens: req.max_output_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            ..Sampling::default()
        },
        stream: req.stream.unwrap_or(false),
        user: req.user.clone(),
        passthrough: Passthrough::from(Dialect::Responses, fields),
    })
}

fn tool_choice(choice: &responses::ToolChoice) -> Result<ToolChoice, DecodeError> {
    let bad = |what: String| {
        DecodeError::new(
            "tool_choice",
            format!("{what}: expected 'auto', 'none', 'required' or a function tool"),
        )
    };
    match choice {
        responses::ToolChoice::Mode(m) => match m.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            other => Err(bad(format!("unknown mode '{other}'"))),
        },
        responses::ToolChoice::Object(v) => {
            let kind = v.get("type").and_then(Value::as_str).unwrap_or("?");
            match (kind, v.get("name").and_then(Value::as_str)) {
                ("function", Some(name)) => Ok(ToolChoice::Tool(name.to_owned())),
                _ => Err(bad(format!("the choice of type '{kind}' is not supported"))),
            }
        }
    }
}

fn response_format(format: &Value) -> Result<ResponseFormat, DecodeError> {
    let field = "text.format";
    let s = |k: &str| format.get(k).and_then(Value::as_str).map(str::to_owned);
    match s("type").as_deref() {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => Ok(ResponseFormat::JsonSchema {
            name: s("name").ok_or_else(|| {
                DecodeError::new(format!("{field}.name"), "a json_schema format needs a name")
            })?,
            description: s("description"),
            schema: format.get("schema").cloned().ok_or_else(|| {
                DecodeError::new(
                    format!("{field}.schema"),
                    "a json_schema format needs a schema",
                )
            })?,
            strict: format.get("strict").and_then(Value::as_bool),
        }),
        other => Err(DecodeError::new(
            format!("{field}.type"),
            format!(
                "expected 'text', 'json_object' or 'json_schema', not '{}'",
                other.unwrap_or("?")
            ),
        )),
    }
}

/// Items become turns: a user or system message starts a turn; assistant messages, function
/// calls and reasoning join the assistant turn before them; function call outputs join the
/// tool results before them.
fn decode_items(items: &[Item]) -> Result<Vec<Message>, DecodeError> {
    let mut messages: Vec<Message> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("input[{i}]");
        let (role, blocks, joins) = match item {
            Item::Message(m) => {
                let role = match m.role.as_str() {
                    "user" => Role::User,
                    "assistant" => Role::Assistant,
                    "system" | "developer" => Role::System,
                    other => {
                        return Err(DecodeError::new(
                            format!("{field}.role"),
                            format!(
                                "expected 'user', 'assistant', 'system' or 'developer', not '{other}'"
                            ),
                        ));
                    }
                };
                let blocks = content(&m.content, &format!("{field}.content"))?;
                (role, blocks, role == Role::Assistant)
            }
            Item::FunctionCall(c) => (
                Role::Assistant,
                vec![Block::ToolUse(ToolUse {
                    id: c.call_id.clone(),
                    name: match &c.namespace {
                        Some(ns) => super::tools::flat_name(ns, &c.name),
                        None => c.name.clone(),
                    },
                    arguments: c.arguments.clone(),
                    cache_control: None,
                })],
                true,
            ),
            Item::FunctionCallOutput(o) => {
                let content = content(&o.output, &format!("{field}.output"))?
                    .into_iter()
                    .map(|b| match b {
                        Block::Text(t) => ToolResultContent::Text(t),
                        Block::Image(i) => ToolResultContent::Image(i),
                        _ => unreachable_part(),
                    })
                    .collect();
                let joins = messages.last().is_some_and(|m| {
                    m.role == Role::User && matches!(m.content.last(), Some(Block::ToolResult(_)))
                });
                (
                    Role::User,
                    vec![Block::ToolResult(ToolResult {
                        tool_use_id: o.call_id.clone(),
                        content,
                        is_error: false,
                        cache_control: None,
                    })],
                    joins,
                )
            }
            Item::Reasoning(r) => {
                let text = r
                    .summary
                    .iter()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n\n");
                let block = match (&r.encrypted_content, text.is_empty()) {
                    (Some(data), true) => Block::RedactedThinking { data: data.clone() },
                    (signature, _) => Block::Thinking(Thinking {
                        text,
                        signature: signature.clone(),
                    }),
                };
                (Role::Assistant, vec![block], true)
            }
            Item::Other(_) => {
                return Err(DecodeError::new(
                    format!("{field}.type"),
                    format!(
                        "'{}' items cannot be translated to this gateway's providers",
                        item.kind()
                    ),
                ));
            }
        };
        match messages.last_mut() {
            Some(last) if joins && last.role == role => last.content.extend(blocks),
            _ => messages.push(Message {
                role,
                content: blocks,
            }),
        }
    }
    Ok(messages)
}

/// Text and images only ever come out of `content`.
fn unreachable_part() -> ToolResultContent {
    ToolResultContent::Text(Text::plain(String::new()))
}

fn content(content: &MessageContent, field: &str) -> Result<Vec<Block>, DecodeError> {
    let parts = match content {
        MessageContent::Text(t) => return Ok(vec![Block::Text(Text::plain(t.clone()))]),
        MessageContent::Parts(parts) => parts,
    };
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| match part {
            ContentPart::InputText(InputText { text })
            | ContentPart::OutputText(OutputText { text, .. }) => {
                Ok(Block::Text(Text::plain(text.clone())))
            }
            ContentPart::InputImage(img) => match &img.image_url {
                Some(url) => Ok(Block::Image(Image {
                    source: image_source(url),
                    detail: img.detail.clone(),
                    cache_control: None,
                })),
                None => Err(DecodeError::new(
                    format!("{field}[{i}]"),
                    "images by file_id cannot be translated to this gateway's providers: send \
                     image_url",
                )),
            },
            ContentPart::Other(_) => Err(DecodeError::new(
                format!("{field}[{i}].type"),
                format!(
                    "'{}' content cannot be translated to this gateway's providers",
                    part.kind()
                ),
            )),
        })
        .collect()
}

/// A `data:` URL becomes inline bytes; anything else stays a URL.
fn image_source(url: &str) -> ImageSource {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((media_type, data)) = rest.split_once(";base64,")
    {
        return ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        };
    }
    ImageSource::Url(url.to_owned())
}

fn image_part(image: &Image) -> ContentPart {
    ContentPart::InputImage(ImagePart {
        image_url: Some(match &image.source {
            ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
            ImageSource::Url(url) => url.clone(),
        }),
        file_id: None,
        detail: image.detail.clone(),
    })
}

/// Encodes a canonical request (the system prompt as `instructions`, turns as items).
pub fn encode_request(req: &canonical::Request) -> ResponsesRequest {
    let instructions = (!req.system.is_empty()).then(|| {
        req.system
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    });
    let mut items = Vec::new();
    for message in &req.messages {
        encode_message(message, &req.tools, &mut items);
    }
    let mut extra = req
        .passthrough
        .for_dialect(Dialect::Responses)
        .cloned()
        .unwrap_or_default();
    let mut kept: Map<String, Value> = Map::new();
    for key in KEPT {
        if let Some(v) = extra.shift_remove(key) {
            kept.insert(key.into(), v);
        }
    }
    ResponsesRequest {
        model: req.model.clone(),
        input: Some(Input::Items(items)),
        instructions,
        tools: (!req.tools.is_empty()).then(|| super::tools::encode_tools(&req.tools)),
        tool_choice: req.tool_choice.as_ref().map(encode_tool_choice),
        parallel_tool_calls: req.parallel_tool_calls,
        text: req.response_format.as_ref().map(|f| TextConfig {
            format: Some(encode_format(f)),
            extra: Map::new(),
        }),
        reasoning: req.reasoning.as_ref().map(|r| ReasoningConfig {
            effort: Some(r.effort().unwrap_or("none").to_owned()),
            summary: None,
            extra: Map::new(),
        }),
        max_output_tokens: req.sampling.max_tokens,
        temperature: req.sampling.temperature,
        top_p: req.sampling.top_p,
        stream: req.stream.then_some(true),
        store: kept.get("store").and_then(Value::as_bool),
        previous_response_id: kept
            .get("previous_response_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        metadata: kept.get("metadata").and_then(Value::as_object).cloned(),
        user: req.user.clone(),
        extra,
    }
}

pub(crate) fn encode_tool_choice(choice: &ToolChoice) -> responses::ToolChoice {
    match choice {
        ToolChoice::Auto => responses::ToolChoice::Mode("auto".into()),
        ToolChoice::None => responses::ToolChoice::Mode("none".into()),
        ToolChoice::Required => responses::ToolChoice::Mode("required".into()),
        ToolChoice::Tool(name) => {
            responses::ToolChoice::Object(json!({"type": "function", "name": name}))
        }
    }
}

pub(crate) fn encode_format(format: &ResponseFormat) -> Value {
    match format {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema {
            name,
            description,
            schema,
            strict,
        } => {
            let mut v = json!({"type": "json_schema", "name": name, "schema": schema});
            if let Some(d) = description {
                v["description"] = Value::from(d.clone());
            }
            if let Some(s) = strict {
                v["strict"] = Value::from(*s);
            }
            v
        }
    }
}

/// One turn as items: text and images of a turn go in one message item; tool calls, tool
/// results and reasoning are items of their own.
fn encode_message(message: &Message, tools: &[Tool], items: &mut Vec<Item>) {
    let role = match message.role {
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::System => "system",
    };
    let mut parts: Vec<ContentPart> = Vec::new();
    let flush = |parts: &mut Vec<ContentPart>, items: &mut Vec<Item>| {
        if !parts.is_empty() {
            items.push(Item::Message(MessageItem {
                id: None,
                role: role.into(),
                content: MessageContent::Parts(std::mem::take(parts)),
                status: None,
            }));
        }
    };
    for block in &message.content {
        match block {
            Block::Text(t) if message.role == Role::Assistant => {
                parts.push(ContentPart::OutputText(OutputText {
                    text: t.text.clone(),
                    annotations: Vec::new(),
                }));
            }
            Block::Text(t) => parts.push(ContentPart::InputText(InputText {
                text: t.text.clone(),
            })),
            Block::Image(i) => parts.push(image_part(i)),
            Block::ToolUse(u) => {
                flush(&mut parts, items);
                let (namespace, name) = super::tools::call_name(tools, &u.name);
                items.push(Item::FunctionCall(FunctionCallItem {
                    id: None,
                    call_id: u.id.clone(),
                    name,
                    namespace,
                    arguments: u.arguments.clone(),
                    status: None,
                }));
            }
            Block::ToolResult(r) => {
                flush(&mut parts, items);
                let output = match r.content.as_slice() {
                    [ToolResultContent::Text(t)] => MessageContent::Text(t.text.clone()),
                    all => MessageContent::Parts(
                        all.iter()
                            .map(|c| match c {
                                ToolResultContent::Text(t) => ContentPart::InputText(InputText {
                                    text: t.text.clone(),
                                }),
                                ToolResultContent::Image(i) => image_part(i),
                            })
                            .collect(),
                    ),
                };
                items.push(Item::FunctionCallOutput(FunctionCallOutputItem {
                    id: None,
                    call_id: r.tool_use_id.clone(),
                    output,
                    status: None,
                }));
            }
            Block::Thinking(t) => {
                flush(&mut parts, items);
                items.push(Item::Reasoning(ReasoningItem {
                    id: None,
                    summary: (!t.text.is_empty())
                        .then(|| SummaryText::new(t.text.clone()))
                        .into_iter()
                        .collect(),
                    encrypted_content: t.signature.clone(),
                    status: None,
                }));
            }
            Block::RedactedThinking { data } => {
                flush(&mut parts, items);
                items.push(Item::Reasoning(ReasoningItem {
                    encrypted_content: Some(data.clone()),
                    ..ReasoningItem::default()
                }));
            }
        }
    }
    flush(&mut parts, items);
}
