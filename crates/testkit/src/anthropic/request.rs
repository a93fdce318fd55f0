//! Parsing a Messages request (`POST /v1/messages`) into the mock model's neutral
//! [`Prompt`]: words of the system prompt and every text, tool result and tool call; who
//! spoke last (a user turn of only tool results counts as a tool result); the tool an echo
//! would call.

use serde_json::{Map, Value};

use crate::turn::{Kind, Prompt, Role, ToolSpec, count_words};

/// Parses a request body; the error is a message for a 400 response.
pub(crate) fn parse(body: &[u8]) -> Result<Prompt, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("messages: the request body is not valid JSON: {e}"))?;
    let Value::Object(request) = value else {
        return Err("messages: the request body must be a JSON object".to_owned());
    };
    if request.get("max_tokens").and_then(Value::as_u64).is_none() {
        return Err("max_tokens: Field required".to_owned());
    }
    let mut prompt = Prompt {
        model: request
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        stream: request.get("stream").and_then(Value::as_bool) == Some(true),
        include_usage: true,
        ..Prompt::default()
    };
    prompt.words += count_words(&text_of(request.get("system")));
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for message in messages {
        let content = message.get("content");
        let text = text_of(content);
        prompt.words += count_words(&text);
        let results_only = content.and_then(Value::as_array).is_some_and(|blocks| {
            !blocks.is_empty()
                && blocks
                    .iter()
                    .all(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        });
        prompt.last_role = match message.get("role").and_then(Value::as_str) {
            Some("user") if results_only => Role::Tool,
            Some("user") => Role::User,
            _ => Role::Other,
        };
        if prompt.last_role == Role::User {
            prompt.last_user_text.clone_from(&text);
        }
        prompt.last_text = text;
    }
    prompt.tool = chosen_tool(&request);
    Ok(prompt)
}

/// The text of a string, or of text blocks, tool results and tool-call inputs, joined by
/// spaces.
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| match b.get("type").and_then(Value::as_str) {
                Some("text") => b.get("text").and_then(Value::as_str).map(str::to_owned),
                Some("tool_result") => Some(text_of(b.get("content"))),
                Some("tool_use") => b.get("input").map(Value::to_string),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The tool an echo would call: none without tools or with `{"type":"none"}`; the named one
/// for `{"type":"tool","name":..}`; else the first.
fn chosen_tool(request: &Map<String, Value>) -> Option<ToolSpec> {
    let tools = request.get("tools").and_then(Value::as_array)?;
    let choice = request.get("tool_choice");
    match choice.and_then(|c| c.get("type")).and_then(Value::as_str) {
        Some("none") => None,
        Some("tool") => {
            let name = choice?.get("name").and_then(Value::as_str)?;
            Some(
                tools
                    .iter()
                    .map(tool_spec)
                    .find(|t| t.name == name)
                    .unwrap_or_else(|| ToolSpec {
                        name: name.to_owned(),
                        required: Vec::new(),
                    }),
            )
        }
        _ => tools.first().map(tool_spec),
    }
}

fn tool_spec(tool: &Value) -> ToolSpec {
    let schema = tool.get("input_schema");
    let properties = schema.and_then(|s| s.get("properties"));
    let required = schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(Value::as_str)
        .map(|name| {
            let kind = properties
                .and_then(|p| p.get(name))
                .and_then(|p| p.get("type"))
                .and_then(Value::as_str)
                .map_or(Kind::String, Kind::from_schema_type);
            (name.to_owned(), kind)
        })
        .collect();
    ToolSpec {
        name: tool
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        required,
    }
}
