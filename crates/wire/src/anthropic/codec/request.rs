//! Messages requests ↔ [`canonical::Request`].

use serde_json::{Map, Value};

use super::structured::{self, Forcing};
use crate::Dialect;
use crate::anthropic::{
    self, Content, ContentBlock, CustomTool, ImageBlock, MessagesRequest, Metadata,
    RedactedThinkingBlock, System, TextBlock, ThinkingBlock, ThinkingConfig, ToolResultBlock,
    ToolUseBlock,
};
use crate::canonical::{
    self, Block, DecodeError, Image, ImageSource, Message, Passthrough, Reasoning, ResponseFormat,
    Role, Sampling, Text, Thinking, Tool, ToolChoice, ToolResult, ToolResultContent, ToolUse,
};

/// Decodes a Messages request.
pub fn decode_request(req: &MessagesRequest) -> Result<canonical::Request, DecodeError> {
    let system = match &req.system {
        None => Vec::new(),
        Some(System::Text(text)) => vec![Text::plain(text.clone())],
        Some(System::Blocks(blocks)) => blocks
            .iter()
            .enumerate()
            .map(|(i, b)| match b {
                ContentBlock::Text(t) => Ok(text(t)),
                other => Err(DecodeError::new(
                    format!("system[{i}].type"),
                    format!("expected a text block, not '{}'", other.kind()),
                )),
            })
            .collect::<Result<_, _>>()?,
    };
    let messages = req
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Ok(Message {
                role: match m.role {
                    anthropic::Role::User => Role::User,
                    anthropic::Role::Assistant => Role::Assistant,
                    anthropic::Role::System => Role::System,
                },
                content: blocks(&m.content, &format!("messages[{i}].content"))?,
            })
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    let tools = req
        .tools
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, tool)| match tool {
            anthropic::Tool::Custom(t) => Ok(Tool {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.input_schema.clone(),
                strict: None,
                cache_control: t.cache_control.clone(),
                namespace: None,
            }),
            anthropic::Tool::Other(v) => Err(DecodeError::new(
                format!("tools[{i}].type"),
                format!(
                    "the server tool '{}' cannot be translated to this provider",
                    v.get("type").and_then(Value::as_str).unwrap_or("?")
                ),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (tool_choice, disable_parallel) = match &req.tool_choice {
        None => (None, None),
        Some(anthropic::ToolChoice::Auto {
            disable_parallel_tool_use,
        }) => (Some(ToolChoice::Auto), *disable_parallel_tool_use),
        Some(anthropic::ToolChoice::Any {
            disable_parallel_tool_use,
        }) => (Some(ToolChoice::Required), *disable_parallel_tool_use),
        Some(anthropic::ToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        }) => (
            Some(ToolChoice::Tool(name.clone())),
            *disable_parallel_tool_use,
        ),
        Some(anthropic::ToolChoice::None {}) => (Some(ToolChoice::None), None),
    };
    let mut extra = req.extra.clone();
    let response_format = match extra.get("output_format") {
        Some(f) if f.get("type").and_then(Value::as_str) == Some("json_schema") => {
            let schema = f
                .get("schema")
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            extra.shift_remove("output_format");
            Some(ResponseFormat::JsonSchema {
                name: "output".into(),
                description: None,
                schema,
                strict: Some(true),
            })
        }
        _ => None,
    };
    Ok(canonical::Request {
        model: req.model.clone(),
        system,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls: disable_parallel.filter(|d| *d).map(|_| false),
        response_format,
        reasoning: req.thinking.as_ref().map(|t| match t {
            ThinkingConfig::Enabled { budget_tokens } => Reasoning::Budget(*budget_tokens),
            ThinkingConfig::Disabled {} => Reasoning::Disabled,
            // `output_config.effort` (beta `effort-2025-11-24`) says how hard to think.
            ThinkingConfig::Adaptive {} => Reasoning::Effort(
                req.extra
                    .get("output_config")
                    .and_then(|c| c.get("effort"))
                    .and_then(Value::as_str)
                    .unwrap_or("medium")
                    .to_owned(),
            ),
        }),
        sampling: Sampling {
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            top_k: req.top_k,
            stop: req.stop_sequences.clone().unwrap_or_default(),
            ..Sampling::default()
        },
        stream: req.is_stream(),
        user: req.metadata.as_ref().and_then(|m| m.user_id.clone()),
        passthrough: Passthrough::from(Dialect::Anthropic, extra),
    })
}

fn text(block: &TextBlock) -> Text {
    Text {
        text: block.text.clone(),
        cache_control: block.cache_control.clone(),
    }
}

fn image(block: &ImageBlock, field: &str) -> Result<Image, DecodeError> {
    let source = match &block.source {
        anthropic::ImageSource::Base64 { media_type, data } => ImageSource::Base64 {
            media_type: media_type.clone(),
            data: data.clone(),
        },
        anthropic::ImageSource::Url { url } => ImageSource::Url(url.clone()),
        anthropic::ImageSource::File { .. } => {
            return Err(DecodeError::new(
                format!("{field}.source"),
                "file images (Files API) cannot be translated to this provider",
            ));
        }
    };
    Ok(Image {
        source,
        detail: None,
        cache_control: block.cache_control.clone(),
    })
}

fn blocks(content: &Content, field: &str) -> Result<Vec<Block>, DecodeError> {
    let list = match content {
        Content::Text(t) => return Ok(vec![Block::Text(Text::plain(t.clone()))]),
        Content::Blocks(list) => list,
    };
    list.iter()
        .enumerate()
        .map(|(i, block)| {
            let field = format!("{field}[{i}]");
            Ok(match block {
                ContentBlock::Text(t) => Block::Text(text(t)),
                ContentBlock::Image(img) => Block::Image(image(img, &field)?),
                ContentBlock::ToolUse(u) => Block::ToolUse(ToolUse {
                    id: u.id.clone(),
                    name: u.name.clone(),
                    arguments: u.input.to_string(),
                    cache_control: u.cache_control.clone(),
                }),
                ContentBlock::ToolResult(r) => Block::ToolResult(tool_result(r, &field)?),
                ContentBlock::Thinking(t) => Block::Thinking(Thinking {
                    text: t.thinking.clone(),
                    signature: (!t.signature.is_empty()).then(|| t.signature.clone()),
                }),
                ContentBlock::RedactedThinking(r) => Block::RedactedThinking {
                    data: r.data.clone(),
                },
                ContentBlock::Other(_) => {
                    return Err(DecodeError::new(
                        format!("{field}.type"),
                        format!(
                            "'{}' blocks cannot be translated to this provider",
                            block.kind()
                        ),
                    ));
                }
            })
        })
        .collect()
}

fn tool_result(r: &ToolResultBlock, field: &str) -> Result<ToolResult, DecodeError> {
    let content = match &r.content {
        None => Vec::new(),
        Some(content) => blocks(content, &format!("{field}.content"))?
            .into_iter()
            .map(|b| match b {
                Block::Text(t) => Ok(ToolResultContent::Text(t)),
                Block::Image(i) => Ok(ToolResultContent::Image(i)),
                _ => Err(DecodeError::new(
                    format!("{field}.content"),
                    "a tool result holds only text and images",
                )),
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(ToolResult {
        tool_use_id: r.tool_use_id.clone(),
        content,
        is_error: r.is_error.unwrap_or(false),
        cache_control: r.cache_control.clone(),
    })
}

/// Encodes a canonical request. `default_max_tokens` is used when the request has none
/// (Anthropic requires `max_tokens`). System messages that open the conversation (a
/// Responses client's `developer` items, e.g. the Codex CLI's) join the system prompt; later
/// ones become user turns.
pub fn encode_request(req: &canonical::Request, default_max_tokens: u64) -> MessagesRequest {
    let output = structured::output_tool(req).map(|t| (structured::forcing(req), t));
    let ask = match &output {
        Some((Forcing::Ask, tool)) => Some(Text::plain(structured::ask_line(&tool.name))),
        _ => None,
    };
    let lead = req
        .messages
        .iter()
        .take_while(|m| m.role == Role::System)
        .count();
    let mut system_texts = req.system.clone();
    system_texts.extend(req.messages[..lead].iter().flat_map(|m| {
        m.content.iter().filter_map(|b| match b {
            Block::Text(t) => Some(t.clone()),
            _ => None,
        })
    }));
    let system = match (system_texts.as_slice(), ask) {
        ([], None) => None,
        ([], Some(ask)) => Some(System::Text(ask.text)),
        ([only], None) if only.cache_control.is_none() => Some(System::Text(only.text.clone())),
        (all, ask) => Some(System::Blocks(
            all.iter()
                .chain(ask.as_ref())
                .map(|t| ContentBlock::Text(text_block(t)))
                .collect(),
        )),
    };
    let mut messages: Vec<anthropic::Message> = Vec::with_capacity(req.messages.len());
    for message in &req.messages[lead..] {
        let role = match message.role {
            Role::Assistant => anthropic::Role::Assistant,
            Role::User | Role::System => anthropic::Role::User,
        };
        let mut list: Vec<ContentBlock> = message.content.iter().filter_map(encode_block).collect();
        match messages.last_mut() {
            Some(last) if last.role == role => {
                let prev = std::mem::replace(&mut last.content, Content::Blocks(Vec::new()));
                let mut merged = match prev {
                    Content::Text(t) => vec![ContentBlock::Text(TextBlock {
                        text: t,
                        ..Default::default()
                    })],
                    Content::Blocks(b) => b,
                };
                merged.append(&mut list);
                last.content = Content::Blocks(merged);
            }
            _ => {
                let content = match list.as_slice() {
                    [ContentBlock::Text(t)] if t.cache_control.is_none() && t.extra.is_empty() => {
                        Content::Text(t.text.clone())
                    }
                    _ => Content::Blocks(list),
                };
                messages.push(anthropic::Message { role, content });
            }
        }
    }
    let disable = (req.parallel_tool_calls == Some(false)).then_some(true);
    let tool_choice = match (&output, &req.tool_choice, disable) {
        (Some((Forcing::Tool, tool)), ..) => Some(anthropic::ToolChoice::Tool {
            name: tool.name.clone(),
            disable_parallel_tool_use: Some(true),
        }),
        (Some((Forcing::Any, _)), None | Some(ToolChoice::Auto | ToolChoice::Required), d) => {
            Some(anthropic::ToolChoice::Any {
                disable_parallel_tool_use: d,
            })
        }
        (Some((Forcing::Ask, _)), None | Some(ToolChoice::Required | ToolChoice::None), d) => {
            Some(anthropic::ToolChoice::Auto {
                disable_parallel_tool_use: d,
            })
        }
        (_, choice, d) => plain_tool_choice(choice.as_ref(), d),
    };
    let mut tools: Vec<anthropic::Tool> = req
        .tools
        .iter()
        .map(|t| {
            anthropic::Tool::Custom(CustomTool {
                name: t.name.clone(),
                description: t.description.clone(),
                input_schema: t.parameters.clone(),
                cache_control: t.cache_control.clone(),
                extra: Map::new(),
            })
        })
        .collect();
    if let Some((_, tool)) = output {
        tools.push(anthropic::Tool::Custom(CustomTool {
            name: tool.name,
            description: Some(tool.description),
            input_schema: tool.schema,
            cache_control: None,
            extra: Map::new(),
        }));
    }
    let thinking = req.reasoning.as_ref().map(|r| match r.budget() {
        Some(budget_tokens) => ThinkingConfig::Enabled { budget_tokens },
        None => ThinkingConfig::Disabled {},
    });
    MessagesRequest {
        model: req.model.clone(),
        messages,
        max_tokens: Some(req.sampling.max_tokens.unwrap_or(default_max_tokens)),
        system,
        metadata: req.user.as_ref().map(|u| Metadata {
            user_id: Some(u.clone()),
            extra: Map::new(),
        }),
        stop_sequences: (!req.sampling.stop.is_empty()).then(|| req.sampling.stop.clone()),
        stream: req.stream.then_some(true),
        temperature: req.sampling.temperature,
        top_k: req.sampling.top_k,
        top_p: req.sampling.top_p,
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        thinking,
        extra: req
            .passthrough
            .for_dialect(Dialect::Anthropic)
            .cloned()
            .unwrap_or_default(),
    }
}

/// The tool choice of a request without structured output.
fn plain_tool_choice(
    choice: Option<&ToolChoice>,
    disable: Option<bool>,
) -> Option<anthropic::ToolChoice> {
    match (choice, disable) {
        (None, None) => None,
        (None | Some(ToolChoice::Auto), d) => Some(anthropic::ToolChoice::Auto {
            disable_parallel_tool_use: d,
        }),
        (Some(ToolChoice::Required), d) => Some(anthropic::ToolChoice::Any {
            disable_parallel_tool_use: d,
        }),
        (Some(ToolChoice::Tool(name)), d) => Some(anthropic::ToolChoice::Tool {
            name: name.clone(),
            disable_parallel_tool_use: d,
        }),
        (Some(ToolChoice::None), _) => Some(anthropic::ToolChoice::None {}),
    }
}

fn text_block(t: &Text) -> TextBlock {
    TextBlock {
        text: t.text.clone(),
        cache_control: t.cache_control.clone(),
        extra: Map::new(),
    }
}

fn image_block(i: &Image) -> ContentBlock {
    ContentBlock::Image(ImageBlock {
        source: match &i.source {
            ImageSource::Base64 { media_type, data } => anthropic::ImageSource::Base64 {
                media_type: media_type.clone(),
                data: data.clone(),
            },
            ImageSource::Url(url) => anthropic::ImageSource::Url { url: url.clone() },
        },
        cache_control: i.cache_control.clone(),
        extra: Map::new(),
    })
}

/// Tool arguments as Anthropic's `input` object: anything but a JSON object becomes `{}`.
pub(crate) fn input_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::Object(Map::new()),
    }
}

fn encode_block(block: &Block) -> Option<ContentBlock> {
    Some(match block {
        Block::Text(t) => ContentBlock::Text(text_block(t)),
        Block::Image(i) => image_block(i),
        Block::ToolUse(u) => ContentBlock::ToolUse(ToolUseBlock {
            id: u.id.clone(),
            name: u.name.clone(),
            input: input_object(&u.arguments),
            cache_control: u.cache_control.clone(),
            extra: Map::new(),
        }),
        Block::ToolResult(r) => {
            let parts: Vec<ContentBlock> = r
                .content
                .iter()
                .map(|c| match c {
                    ToolResultContent::Text(t) => ContentBlock::Text(text_block(t)),
                    ToolResultContent::Image(i) => image_block(i),
                })
                .collect();
            let content = match parts.as_slice() {
                [] => None,
                [ContentBlock::Text(t)] if t.cache_control.is_none() => {
                    Some(Content::Text(t.text.clone()))
                }
                _ => Some(Content::Blocks(parts)),
            };
            ContentBlock::ToolResult(ToolResultBlock {
                tool_use_id: r.tool_use_id.clone(),
                content,
                is_error: r.is_error.then_some(true),
                cache_control: r.cache_control.clone(),
                extra: Map::new(),
            })
        }
        Block::Thinking(t) => ContentBlock::Thinking(ThinkingBlock {
            thinking: t.text.clone(),
            signature: t.signature.clone()?,
            extra: Map::new(),
        }),
        Block::RedactedThinking { data } => ContentBlock::RedactedThinking(RedactedThinkingBlock {
            data: data.clone(),
            extra: Map::new(),
        }),
    })
}
