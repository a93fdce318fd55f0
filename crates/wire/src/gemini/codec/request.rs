//! `GenerateContentRequest` ↔ [`canonical::Request`].

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::Dialect;
use crate::canonical::{
    self, Block, DecodeError, Image, ImageSource, Message, Passthrough, Reasoning, ResponseFormat,
    Role, Sampling, Text, Thinking, Tool, ToolChoice, ToolResult, ToolResultContent, ToolUse,
};
use crate::gemini::{
    Blob, Content, FileData, FunctionCall, FunctionCallingConfig, FunctionDeclaration,
    FunctionResponse, GenerateContentRequest, GenerationConfig, Part, ThinkingConfig, ToolConfig,
};

/// Decodes a request. The model is `req.model` (without a `models/` prefix); `stream` is
/// left false: in Gemini it is said by the URL, not the body.
pub fn decode_request(req: &GenerateContentRequest) -> Result<canonical::Request, DecodeError> {
    let system = match &req.system_instruction {
        None => Vec::new(),
        Some(content) => content
            .parts
            .iter()
            .enumerate()
            .map(|(i, p)| match (&p.text, p.thought) {
                (Some(t), None | Some(false)) => Ok(Text::plain(t.clone())),
                _ => Err(DecodeError::new(
                    format!("systemInstruction.parts[{i}]"),
                    format!("expected a text part, not '{}'", p.kind()),
                )),
            })
            .collect::<Result<_, _>>()?,
    };
    let mut ids = Ids::default();
    let messages = req
        .contents
        .iter()
        .enumerate()
        .map(|(t, c)| message(c, t, &mut ids))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tools = Vec::new();
    for (i, tool) in req.tools.iter().enumerate() {
        if let Some(other) = tool.extra.keys().next() {
            return Err(DecodeError::new(
                format!("tools[{i}].{other}"),
                "only functionDeclarations can be translated to this provider",
            ));
        }
        for f in &tool.function_declarations {
            tools.push(Tool {
                name: f.name.clone(),
                description: f.description.clone(),
                parameters: match (&f.parameters_json_schema, &f.parameters) {
                    (Some(s), _) => s.clone(),
                    (None, Some(s)) => json_schema(s),
                    (None, None) => serde_json::json!({"type": "object", "properties": {}}),
                },
                strict: None,
                cache_control: None,
                namespace: None,
            });
        }
    }
    let tool_choice = match req
        .tool_config
        .as_ref()
        .and_then(|c| c.function_calling_config.as_ref())
    {
        None => None,
        Some(c) => tool_choice(c, &mut tools)?,
    };
    let empty = GenerationConfig::default();
    let g = req.generation_config.as_ref().unwrap_or(&empty);
    if g.candidate_count.is_some_and(|n| n > 1) {
        return Err(DecodeError::new(
            "generationConfig.candidateCount",
            "only one candidate can be generated through this gateway",
        ));
    }
    let top_k = match g.top_k {
        Some(k) if k < 0.0 || !k.is_finite() => {
            return Err(DecodeError::new(
                "generationConfig.topK",
                "expected a non-negative integer",
            ));
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked non-negative and finite"
        )]
        Some(k) => Some(k.round() as u64),
        None => None,
    };
    let json_mime = g.response_mime_type.as_deref() == Some("application/json");
    let response_format = match (&g.response_json_schema, &g.response_schema) {
        (Some(s), _) => Some(json_format(s.clone())),
        (None, Some(s)) => Some(json_format(json_schema(s))),
        (None, None) if json_mime => Some(ResponseFormat::JsonObject),
        (None, None) => None,
    };
    let reasoning = match &g.thinking_config {
        Some(ThinkingConfig {
            thinking_level: Some(level),
            ..
        }) => Some(Reasoning::Effort(level.to_lowercase())),
        Some(ThinkingConfig {
            thinking_budget: Some(b),
            ..
        }) => Some(match u64::try_from(*b) {
            Ok(0) => Reasoning::Disabled,
            Ok(b) => Reasoning::Budget(b),
            // -1: the model decides.
            Err(_) => Reasoning::Effort("medium".into()),
        }),
        _ => None,
    };
    Ok(canonical::Request {
        model: req
            .model
            .as_deref()
            .map(|m| m.strip_prefix("models/").unwrap_or(m).to_owned())
            .unwrap_or_default(),
        system,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls: None,
        response_format,
        reasoning,
        sampling: Sampling {
            max_tokens: g.max_output_tokens,
            temperature: g.temperature,
            top_p: g.top_p,
            top_k,
            stop: g.stop_sequences.clone().unwrap_or_default(),
            seed: g.seed,
            presence_penalty: g.presence_penalty,
            frequency_penalty: g.frequency_penalty,
        },
        stream: false,
        user: None,
        passthrough: Passthrough::from(Dialect::Gemini, req.extra.clone()),
    })
}

fn json_format(schema: Value) -> ResponseFormat {
    ResponseFormat::JsonSchema {
        name: "response".into(),
        description: None,
        schema,
        strict: None,
    }
}

fn tool_choice(
    c: &FunctionCallingConfig,
    tools: &mut Vec<Tool>,
) -> Result<Option<ToolChoice>, DecodeError> {
    Ok(
        match c.mode.as_deref().map(str::to_ascii_uppercase).as_deref() {
            None | Some("MODE_UNSPECIFIED") => None,
            Some("AUTO" | "VALIDATED") => Some(ToolChoice::Auto),
            Some("NONE") => Some(ToolChoice::None),
            Some("ANY") => match c.allowed_function_names.as_deref() {
                Some([only]) => Some(ToolChoice::Tool(only.clone())),
                Some(names) if !names.is_empty() => {
                    tools.retain(|t| names.contains(&t.name));
                    Some(ToolChoice::Required)
                }
                _ => Some(ToolChoice::Required),
            },
            Some(other) => {
                return Err(DecodeError::new(
                    "toolConfig.functionCallingConfig.mode",
                    format!("unknown mode '{other}': expected AUTO, ANY or NONE"),
                ));
            }
        },
    )
}

/// Ids of calls that have none, so that their responses find them again.
#[derive(Default)]
struct Ids {
    /// Calls not yet answered: (id, name).
    pending: Vec<(String, String)>,
}

impl Ids {
    fn call(&mut self, call: &FunctionCall, turn: usize, part: usize) -> String {
        let id = call
            .id
            .clone()
            .unwrap_or_else(|| format!("call_{turn}_{part}"));
        self.pending.push((id.clone(), call.name.clone()));
        id
    }

    fn response(&mut self, r: &FunctionResponse, turn: usize, part: usize) -> String {
        let found = match &r.id {
            Some(id) => self.pending.iter().position(|(p, _)| p == id),
            None => self.pending.iter().position(|(_, name)| *name == r.name),
        };
        let answered = found.map(|i| self.pending.remove(i).0);
        r.id.clone()
            .or(answered)
            .unwrap_or_else(|| format!("call_{turn}_{part}"))
    }
}

fn message(c: &Content, turn: usize, ids: &mut Ids) -> Result<Message, DecodeError> {
    let role = match c.role.as_deref() {
        None | Some("" | "user" | "function" | "tool") => Role::User,
        Some("model" | "assistant") => Role::Assistant,
        Some(other) => {
            return Err(DecodeError::new(
                format!("contents[{turn}].role"),
                format!("unknown role '{other}': expected 'user' or 'model'"),
            ));
        }
    };
    let mut content = Vec::with_capacity(c.parts.len());
    for (i, p) in c.parts.iter().enumerate() {
        let field = format!("contents[{turn}].parts[{i}]");
        let block = if let Some(text) = &p.text {
            if p.thought == Some(true) {
                Block::Thinking(Thinking {
                    text: text.clone(),
                    signature: p.thought_signature.clone(),
                })
            } else {
                Block::Text(Text::plain(text.clone()))
            }
        } else if let Some(blob) = &p.inline_data {
            Block::Image(inline_image(blob, &field)?)
        } else if let Some(file) = &p.file_data {
            Block::Image(file_image(file, &field)?)
        } else if let Some(call) = &p.function_call {
            Block::ToolUse(ToolUse {
                id: ids.call(call, turn, i),
                name: call.name.clone(),
                arguments: call
                    .args
                    .clone()
                    .unwrap_or_else(|| Value::Object(Map::new()))
                    .to_string(),
                cache_control: None,
            })
        } else if let Some(r) = &p.function_response {
            Block::ToolResult(tool_result(r, ids.response(r, turn, i)))
        } else if p.thought == Some(true) {
            // A bare signature: nothing the canonical model keeps.
            continue;
        } else {
            return Err(DecodeError::new(
                field,
                format!("'{}' parts cannot be translated to this provider", p.kind()),
            ));
        };
        content.push(block);
    }
    Ok(Message { role, content })
}

fn inline_image(blob: &Blob, field: &str) -> Result<Image, DecodeError> {
    if !blob.mime_type.starts_with("image/") {
        return Err(DecodeError::new(
            format!("{field}.inlineData.mimeType"),
            format!(
                "only images can be translated to this provider, not '{}'",
                blob.mime_type
            ),
        ));
    }
    Ok(Image {
        source: ImageSource::Base64 {
            media_type: blob.mime_type.clone(),
            data: blob.data.clone(),
        },
        detail: None,
        cache_control: None,
    })
}

fn file_image(file: &FileData, field: &str) -> Result<Image, DecodeError> {
    let is_image = file
        .mime_type
        .as_deref()
        .is_none_or(|m| m.starts_with("image/"));
    if !is_image || file.file_uri.is_empty() {
        return Err(DecodeError::new(
            format!("{field}.fileData"),
            "only image URIs can be translated to this provider",
        ));
    }
    Ok(Image {
        source: ImageSource::Url(file.file_uri.clone()),
        detail: None,
        cache_control: None,
    })
}

fn tool_result(r: &FunctionResponse, tool_use_id: String) -> ToolResult {
    let single = r
        .response
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| {
            o.iter()
                .next()
                .and_then(|(k, v)| Some((k.as_str(), v.as_str()?)))
        });
    let (text, is_error) = match single {
        Some(("error", e)) => (e.to_owned(), true),
        Some(("result" | "output" | "content", t)) => (t.to_owned(), false),
        _ => (r.response.to_string(), false),
    };
    ToolResult {
        tool_use_id,
        content: vec![ToolResultContent::Text(Text::plain(text))],
        is_error,
        cache_control: None,
    }
}

/// JSON Schema from a Gemini (OpenAPI) schema: types lower-cased, `nullable` as a `null`
/// type, `propertyOrdering` dropped; a JSON Schema passes unchanged.
pub fn json_schema(schema: &Value) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    let nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);
    for (key, v) in obj {
        let v = match key.as_str() {
            "nullable" | "propertyOrdering" | "property_ordering" => continue,
            "type" => match v.as_str() {
                Some(t) if nullable => serde_json::json!([t.to_ascii_lowercase(), "null"]),
                Some(t) => Value::from(t.to_ascii_lowercase()),
                None => v.clone(),
            },
            "properties" => match v.as_object() {
                Some(props) => Value::Object(
                    props
                        .iter()
                        .map(|(k, s)| (k.clone(), json_schema(s)))
                        .collect(),
                ),
                None => v.clone(),
            },
            "items" | "additionalProperties" => json_schema(v),
            "anyOf" | "oneOf" | "allOf" | "any_of" => match v.as_array() {
                Some(list) => Value::Array(list.iter().map(json_schema).collect()),
                None => v.clone(),
            },
            _ => v.clone(),
        };
        let key = if key == "any_of" { "anyOf" } else { key };
        out.insert(key.to_owned(), v);
    }
    Value::Object(out)
}

/// Encodes a canonical request (the model goes into `model`, as `models/…`).
pub fn encode_request(req: &canonical::Request) -> GenerateContentRequest {
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut contents = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        let role = match m.role {
            Role::Assistant => "model",
            Role::User | Role::System => "user",
        };
        let parts = m
            .content
            .iter()
            .filter_map(|b| encode_block(b, &mut names))
            .collect();
        contents.push(Content {
            role: Some(role.into()),
            parts,
        });
    }
    let tools = if req.tools.is_empty() {
        Vec::new()
    } else {
        vec![crate::gemini::Tool {
            function_declarations: req
                .tools
                .iter()
                .map(|t| FunctionDeclaration {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    parameters: None,
                    parameters_json_schema: Some(t.parameters.clone()),
                    extra: Map::new(),
                })
                .collect(),
            extra: Map::new(),
        }]
    };
    let tool_config = req.tool_choice.as_ref().map(|c| {
        let (mode, names) = match c {
            ToolChoice::Auto => ("AUTO", None),
            ToolChoice::None => ("NONE", None),
            ToolChoice::Required => ("ANY", None),
            ToolChoice::Tool(name) => ("ANY", Some(vec![name.clone()])),
        };
        ToolConfig {
            function_calling_config: Some(FunctionCallingConfig {
                mode: Some(mode.into()),
                allowed_function_names: names,
            }),
            extra: Map::new(),
        }
    });
    let s = &req.sampling;
    let (mime, schema) = match &req.response_format {
        None => (None, None),
        Some(ResponseFormat::Text) => (Some("text/plain"), None),
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            (Some("application/json"), Some(schema.clone()))
        }
    };
    let thinking_config = req.reasoning.as_ref().map(|r| match r {
        Reasoning::Disabled => ThinkingConfig {
            thinking_budget: Some(0),
            ..ThinkingConfig::default()
        },
        Reasoning::Budget(b) => ThinkingConfig {
            thinking_budget: Some(i64::try_from(*b).unwrap_or(i64::MAX)),
            ..ThinkingConfig::default()
        },
        Reasoning::Effort(e) => ThinkingConfig {
            thinking_level: Some(e.clone()),
            ..ThinkingConfig::default()
        },
    });
    #[expect(clippy::cast_precision_loss, reason = "top_k is small")]
    let generation_config = GenerationConfig {
        temperature: s.temperature,
        top_p: s.top_p,
        top_k: s.top_k.map(|k| k as f64),
        max_output_tokens: s.max_tokens,
        stop_sequences: (!s.stop.is_empty()).then(|| s.stop.clone()),
        candidate_count: None,
        seed: s.seed,
        presence_penalty: s.presence_penalty,
        frequency_penalty: s.frequency_penalty,
        response_mime_type: mime.map(str::to_owned),
        response_schema: None,
        response_json_schema: schema,
        thinking_config,
        extra: Map::new(),
    };
    GenerateContentRequest {
        model: Some(format!("models/{}", req.model)),
        contents,
        system_instruction: (!req.system.is_empty()).then(|| Content {
            role: None,
            parts: req
                .system
                .iter()
                .map(|t| Part::text(t.text.clone()))
                .collect(),
        }),
        tools,
        tool_config,
        generation_config: (generation_config != GenerationConfig::default())
            .then_some(generation_config),
        extra: req
            .passthrough
            .for_dialect(Dialect::Gemini)
            .cloned()
            .unwrap_or_default(),
    }
}

/// The part for a block; `names` remembers each call's name for its response.
pub(super) fn encode_block<'a>(
    b: &'a Block,
    names: &mut HashMap<&'a str, &'a str>,
) -> Option<Part> {
    Some(match b {
        Block::Text(t) => Part::text(t.text.clone()),
        Block::Image(i) => image_part(i),
        Block::ToolUse(u) => {
            names.insert(&u.id, &u.name);
            Part {
                function_call: Some(FunctionCall {
                    id: Some(u.id.clone()),
                    name: u.name.clone(),
                    args: Some(arguments(&u.arguments)),
                }),
                ..Part::default()
            }
        }
        Block::ToolResult(r) => {
            let text = r
                .content
                .iter()
                .filter_map(|c| match c {
                    ToolResultContent::Text(t) => Some(t.text.as_str()),
                    ToolResultContent::Image(_) => None,
                })
                .collect::<Vec<_>>()
                .join("\n");
            let key = if r.is_error { "error" } else { "result" };
            Part {
                function_response: Some(FunctionResponse {
                    id: Some(r.tool_use_id.clone()),
                    name: names
                        .get(r.tool_use_id.as_str())
                        .map_or_else(String::new, |n| (*n).to_owned()),
                    response: serde_json::json!({ key: text }),
                }),
                ..Part::default()
            }
        }
        Block::Thinking(t) => Part {
            text: Some(t.text.clone()),
            thought: Some(true),
            thought_signature: t.signature.clone(),
            ..Part::default()
        },
        Block::RedactedThinking { .. } => return None,
    })
}

fn image_part(i: &Image) -> Part {
    match &i.source {
        ImageSource::Base64 { media_type, data } => Part {
            inline_data: Some(Blob {
                mime_type: media_type.clone(),
                data: data.clone(),
            }),
            ..Part::default()
        },
        ImageSource::Url(url) => Part {
            file_data: Some(FileData {
                mime_type: None,
                file_uri: url.clone(),
            }),
            ..Part::default()
        },
    }
}

/// Arguments as a JSON object: text that is not one becomes `{}`.
pub(super) fn arguments(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::Object(Map::new()),
    }
}
