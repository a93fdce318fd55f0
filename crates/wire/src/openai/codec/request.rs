//! Chat Completions requests ↔ [`canonical::Request`].

use serde_json::{Map, Value};

use crate::Dialect;
use crate::canonical::{
    self, Block, DecodeError, Image, ImageSource, Message, Passthrough, Reasoning, ResponseFormat,
    Role, Sampling, Text, Thinking, Tool, ToolChoice, ToolResult, ToolResultContent, ToolUse,
};
use crate::openai::{
    self, AssistantMessage, ChatCompletionRequest, ChatMessage, ContentMessage, ContentPart,
    FunctionCall, FunctionDefinition, FunctionTool, FunctionToolCall, ImagePart, ImageUrl,
    JsonSchema, MessageContent, ResponseFormatJsonObject, ResponseFormatJsonSchema,
    ResponseFormatText, Stop, StreamOptions, TextPart, ToolMessage,
};

/// Fields the canonical model carries; everything else goes to the passthrough bag.
const MAPPED: &[&str] = &[
    "model",
    "messages",
    "frequency_penalty",
    "max_completion_tokens",
    "max_tokens",
    "parallel_tool_calls",
    "presence_penalty",
    "reasoning_effort",
    "response_format",
    "seed",
    "stop",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_p",
    "user",
];

/// Decodes a chat completion request.
pub fn decode_request(req: &ChatCompletionRequest) -> Result<canonical::Request, DecodeError> {
    let mut system = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    for (i, message) in req.messages.iter().enumerate() {
        let field = |rest: &str| format!("messages[{i}]{rest}");
        match message {
            ChatMessage::System(m) | ChatMessage::Developer(m) => {
                let texts = text_blocks(&m.content, &field(".content"))?;
                if messages.is_empty() {
                    system.extend(texts);
                } else {
                    messages.push(Message {
                        role: Role::System,
                        content: texts.into_iter().map(Block::Text).collect(),
                    });
                }
            }
            ChatMessage::User(m) => messages.push(Message {
                role: Role::User,
                content: user_blocks(&m.content, &field(".content"))?,
            }),
            ChatMessage::Assistant(m) => messages.push(Message {
                role: Role::Assistant,
                content: assistant_blocks(m, &field(""))?,
            }),
            ChatMessage::Tool(m) => {
                let result = Block::ToolResult(ToolResult {
                    tool_use_id: m.tool_call_id.clone(),
                    content: user_blocks(&m.content, &field(".content"))?
                        .into_iter()
                        .filter_map(|b| match b {
                            Block::Text(t) => Some(ToolResultContent::Text(t)),
                            Block::Image(i) => Some(ToolResultContent::Image(i)),
                            _ => None,
                        })
                        .collect(),
                    is_error: false,
                    cache_control: None,
                });
                // Consecutive tool messages answer one assistant turn: one user turn.
                match messages.last_mut() {
                    Some(last)
                        if last.role == Role::User
                            && !last.content.is_empty()
                            && last
                                .content
                                .iter()
                                .all(|b| matches!(b, Block::ToolResult(_))) =>
                    {
                        last.content.push(result);
                    }
                    _ => messages.push(Message {
                        role: Role::User,
                        content: vec![result],
                    }),
                }
            }
            ChatMessage::Function(_) => {
                return Err(DecodeError::new(
                    field(".role"),
                    "`function` messages (deprecated) cannot be translated; use `tool`",
                ));
            }
        }
    }

    let tools = req
        .tools
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, tool)| match tool {
            openai::Tool::Function(f) => Ok(Tool {
                name: f.function.name.clone(),
                description: f.function.description.clone(),
                parameters: f
                    .function
                    .parameters
                    .clone()
                    .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
                strict: f.function.strict,
                cache_control: None,
                namespace: None,
            }),
            openai::Tool::Other(_) => Err(DecodeError::new(
                format!("tools[{i}].type"),
                "only `function` tools can be translated to this provider",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tool_choice = match &req.tool_choice {
        None => None,
        Some(openai::ToolChoice::Auto) => Some(ToolChoice::Auto),
        Some(openai::ToolChoice::None) => Some(ToolChoice::None),
        Some(openai::ToolChoice::Required) => Some(ToolChoice::Required),
        Some(openai::ToolChoice::Named(n)) => Some(ToolChoice::Tool(n.function.name.clone())),
        Some(openai::ToolChoice::Other(_)) => {
            return Err(DecodeError::new(
                "tool_choice",
                "expected \"auto\", \"none\", \"required\" or a named function",
            ));
        }
    };
    let response_format = match &req.response_format {
        None => None,
        Some(openai::ResponseFormat::Text(_)) => Some(ResponseFormat::Text),
        Some(openai::ResponseFormat::JsonObject(_)) => Some(ResponseFormat::JsonObject),
        Some(openai::ResponseFormat::JsonSchema(s)) => Some(ResponseFormat::JsonSchema {
            name: s.json_schema.name.clone(),
            description: s.json_schema.description.clone(),
            schema: s
                .json_schema
                .schema
                .clone()
                .unwrap_or(Value::Object(Map::new())),
            strict: s.json_schema.strict,
        }),
        Some(openai::ResponseFormat::Other(_)) => {
            return Err(DecodeError::new(
                "response_format.type",
                "expected text, json_object or json_schema",
            ));
        }
    };

    let mut rest = serde_json::to_value(req)
        .ok()
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default();
    rest.retain(|k, _| !MAPPED.contains(&k.as_str()));

    Ok(canonical::Request {
        model: req.model.clone(),
        system,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls: req.parallel_tool_calls,
        response_format,
        reasoning: req.reasoning_effort.clone().map(Reasoning::Effort),
        sampling: Sampling {
            max_tokens: req.max_completion_tokens.or(req.max_tokens),
            temperature: req.temperature,
            top_p: req.top_p,
            top_k: None,
            stop: req
                .stop
                .as_ref()
                .map(|s| s.as_slice().to_vec())
                .unwrap_or_default(),
            seed: req.seed,
            presence_penalty: req.presence_penalty,
            frequency_penalty: req.frequency_penalty,
        },
        stream: req.is_stream(),
        user: req.user.clone(),
        passthrough: Passthrough::from(Dialect::OpenAi, rest),
    })
}

fn text_blocks(content: &MessageContent, field: &str) -> Result<Vec<Text>, DecodeError> {
    user_blocks(content, field)?
        .into_iter()
        .map(|b| match b {
            Block::Text(t) => Ok(t),
            _ => Err(DecodeError::new(field, "only text is allowed here")),
        })
        .collect()
}

fn user_blocks(content: &MessageContent, field: &str) -> Result<Vec<Block>, DecodeError> {
    match content {
        MessageContent::Text(text) => Ok(vec![Block::Text(Text::plain(text.clone()))]),
        MessageContent::Parts(parts) => parts
            .iter()
            .enumerate()
            .map(|(i, part)| match part {
                ContentPart::Text(t) => Ok(Block::Text(Text::plain(t.text.clone()))),
                ContentPart::Refusal(r) => Ok(Block::Text(Text::plain(r.refusal.clone()))),
                ContentPart::ImageUrl(img) => Ok(Block::Image(Image {
                    source: image_source(&img.image_url.url),
                    detail: img.image_url.detail.clone(),
                    cache_control: None,
                })),
                ContentPart::InputAudio(_) | ContentPart::File(_) | ContentPart::Other(_) => {
                    Err(DecodeError::new(
                        format!("{field}[{i}].type"),
                        "only text and image parts can be translated to this provider",
                    ))
                }
            })
            .collect(),
    }
}

fn assistant_blocks(m: &AssistantMessage, field: &str) -> Result<Vec<Block>, DecodeError> {
    let mut blocks = Vec::new();
    if let Some(reasoning) = m.reasoning_content.as_ref().filter(|r| !r.is_empty()) {
        blocks.push(Block::Thinking(Thinking {
            text: reasoning.clone(),
            signature: None,
        }));
    }
    if let Some(content) = &m.content {
        blocks.extend(user_blocks(content, &format!("{field}.content"))?);
    }
    if let Some(refusal) = &m.refusal {
        blocks.push(Block::Text(Text::plain(refusal.clone())));
    }
    for (i, call) in m.tool_calls.iter().flatten().enumerate() {
        match call {
            openai::ToolCall::Function(f) => blocks.push(Block::ToolUse(ToolUse {
                id: f.id.clone(),
                name: f.function.name.clone(),
                arguments: f.function.arguments.clone(),
                cache_control: None,
            })),
            openai::ToolCall::Other(_) => {
                return Err(DecodeError::new(
                    format!("{field}.tool_calls[{i}].type"),
                    "only `function` tool calls can be translated",
                ));
            }
        }
    }
    Ok(blocks)
}

/// A `data:` URL becomes inline bytes; anything else stays a URL.
pub(crate) fn image_source(url: &str) -> ImageSource {
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

fn image_url(image: &Image) -> ImagePart {
    let url = match &image.source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url(url) => url.clone(),
    };
    ImagePart {
        image_url: ImageUrl {
            url,
            detail: image.detail.clone(),
            extra: Map::new(),
        },
        extra: Map::new(),
    }
}

fn text_part(text: &str) -> ContentPart {
    ContentPart::Text(TextPart {
        text: text.to_owned(),
        extra: Map::new(),
    })
}

/// Text blocks alone as a string when there is exactly one, else as parts.
fn content_of(parts: Vec<ContentPart>) -> MessageContent {
    match parts.as_slice() {
        [ContentPart::Text(t)] => MessageContent::Text(t.text.clone()),
        _ => MessageContent::Parts(parts),
    }
}

/// Encodes a canonical request as a chat completion request for `model`.
pub fn encode_request(req: &canonical::Request) -> ChatCompletionRequest {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        let parts = req.system.iter().map(|t| text_part(&t.text)).collect();
        messages.push(ChatMessage::System(ContentMessage {
            content: content_of(parts),
            ..Default::default()
        }));
    }
    for message in &req.messages {
        encode_message(message, &mut messages);
    }
    let mut out = ChatCompletionRequest {
        model: req.model.clone(),
        messages,
        frequency_penalty: req.sampling.frequency_penalty,
        max_tokens: req.sampling.max_tokens,
        parallel_tool_calls: req.parallel_tool_calls,
        presence_penalty: req.sampling.presence_penalty,
        reasoning_effort: req
            .reasoning
            .as_ref()
            .and_then(Reasoning::effort)
            .map(str::to_owned),
        response_format: req.response_format.as_ref().map(|f| match f {
            ResponseFormat::Text => openai::ResponseFormat::Text(ResponseFormatText::default()),
            ResponseFormat::JsonObject => {
                openai::ResponseFormat::JsonObject(ResponseFormatJsonObject::default())
            }
            ResponseFormat::JsonSchema {
                name,
                description,
                schema,
                strict,
            } => openai::ResponseFormat::JsonSchema(ResponseFormatJsonSchema {
                json_schema: JsonSchema {
                    name: name.clone(),
                    description: description.clone(),
                    schema: Some(schema.clone()),
                    strict: *strict,
                    extra: Map::new(),
                },
                extra: Map::new(),
            }),
        }),
        seed: req.sampling.seed,
        stop: (!req.sampling.stop.is_empty()).then(|| Stop::Many(req.sampling.stop.clone())),
        stream: req.stream.then_some(true),
        stream_options: req.stream.then(|| StreamOptions {
            include_usage: Some(true),
            ..Default::default()
        }),
        temperature: req.sampling.temperature,
        tool_choice: req.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => openai::ToolChoice::Auto,
            ToolChoice::None => openai::ToolChoice::None,
            ToolChoice::Required => openai::ToolChoice::Required,
            ToolChoice::Tool(name) => openai::ToolChoice::function(name.clone()),
        }),
        tools: (!req.tools.is_empty()).then(|| {
            req.tools
                .iter()
                .map(|t| {
                    openai::Tool::Function(FunctionTool {
                        function: FunctionDefinition {
                            name: t.name.clone(),
                            description: t.description.clone(),
                            parameters: Some(t.parameters.clone()),
                            strict: t.strict,
                            extra: Map::new(),
                        },
                        extra: Map::new(),
                    })
                })
                .collect()
        }),
        top_p: req.sampling.top_p,
        user: req.user.clone(),
        ..Default::default()
    };
    if let Some(fields) = req.passthrough.for_dialect(Dialect::OpenAi)
        && let Ok(Value::Object(mut merged)) = serde_json::to_value(&out)
    {
        for (k, v) in fields {
            merged.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if let Ok(with_rest) = serde_json::from_value(Value::Object(merged)) {
            out = with_rest;
        }
    }
    out
}

fn encode_message(message: &Message, out: &mut Vec<ChatMessage>) {
    match message.role {
        Role::System => {
            let parts = message
                .content
                .iter()
                .filter_map(|b| match b {
                    Block::Text(t) => Some(text_part(&t.text)),
                    _ => None,
                })
                .collect();
            out.push(ChatMessage::System(ContentMessage {
                content: content_of(parts),
                ..Default::default()
            }));
        }
        Role::User => {
            let mut parts = Vec::new();
            let mut result_images = Vec::new();
            for block in &message.content {
                match block {
                    Block::Text(t) => parts.push(text_part(&t.text)),
                    Block::Image(i) => parts.push(ContentPart::ImageUrl(image_url(i))),
                    Block::ToolResult(r) => {
                        out.push(tool_message(r, &mut result_images));
                    }
                    // Reasoning belongs to assistant turns; a user turn has none to send.
                    Block::ToolUse(_) | Block::Thinking(_) | Block::RedactedThinking { .. } => {}
                }
            }
            result_images.extend(parts);
            if !result_images.is_empty() || message.content.is_empty() {
                out.push(ChatMessage::User(ContentMessage {
                    content: content_of(result_images),
                    ..Default::default()
                }));
            }
        }
        Role::Assistant => {
            let mut reasoning = String::new();
            let mut texts = Vec::new();
            let mut calls = Vec::new();
            for block in &message.content {
                match block {
                    Block::Text(t) => texts.push(text_part(&t.text)),
                    Block::Thinking(t) => reasoning.push_str(&t.text),
                    Block::ToolUse(u) => {
                        calls.push(openai::ToolCall::Function(FunctionToolCall {
                            id: u.id.clone(),
                            function: FunctionCall {
                                name: u.name.clone(),
                                arguments: u.arguments.clone(),
                                extra: Map::new(),
                            },
                            extra: Map::new(),
                        }));
                    }
                    Block::Image(_) | Block::ToolResult(_) | Block::RedactedThinking { .. } => {}
                }
            }
            out.push(ChatMessage::Assistant(Box::new(AssistantMessage {
                content: (!texts.is_empty()).then(|| content_of(texts)),
                tool_calls: (!calls.is_empty()).then_some(calls),
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                ..Default::default()
            })));
        }
    }
}

/// A tool result as a `tool` message; its images go to `images` for a user message after.
fn tool_message(result: &ToolResult, images: &mut Vec<ContentPart>) -> ChatMessage {
    let mut parts = Vec::new();
    for part in &result.content {
        match part {
            ToolResultContent::Text(t) => parts.push(text_part(&t.text)),
            ToolResultContent::Image(i) => images.push(ContentPart::ImageUrl(image_url(i))),
        }
    }
    let mut content = content_of(parts);
    if result.is_error {
        let text: Vec<&str> = content.text_parts().collect();
        content = MessageContent::Text(format!("Error: {}", text.join("\n")));
    }
    ChatMessage::Tool(ToolMessage {
        content,
        tool_call_id: result.tool_use_id.clone(),
        extra: Map::new(),
    })
}
