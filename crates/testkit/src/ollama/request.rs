//! Parsing an `/api/chat` request into the mock model's neutral [`Prompt`]: words of every
//! message (tool-call arguments included); who spoke last (`tool` is a tool result); the
//! tool an echo would call (the first offered).

use serde_json::Value;

use crate::turn::{Kind, Prompt, Role, ToolSpec, count_words};

/// Parses a request body; the error is a message for a 400 response.
pub(crate) fn parse(body: &[u8]) -> Result<Prompt, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("invalid character: {e}"))?;
    let Value::Object(request) = value else {
        return Err("json: cannot unmarshal into api.ChatRequest".to_owned());
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or("model is required")?;
    let mut prompt = Prompt {
        model: model.to_owned(),
        // Ollama streams unless told not to.
        stream: request.get("stream").and_then(Value::as_bool) != Some(false),
        include_usage: true,
        ..Prompt::default()
    };
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for message in messages {
        let mut text = message
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        for call in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(args) = call.get("function").and_then(|f| f.get("arguments")) {
                text.push(' ');
                text.push_str(&args.to_string());
            }
        }
        prompt.words += count_words(&text);
        let role = message.get("role").and_then(Value::as_str);
        if role == Some("system") {
            continue;
        }
        prompt.last_role = match role {
            Some("user") => Role::User,
            Some("tool") => Role::Tool,
            _ => Role::Other,
        };
        if prompt.last_role == Role::User {
            prompt.last_user_text.clone_from(&text);
        }
        prompt.last_text = text;
    }
    prompt.tool = request
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|tools| tools.first())
        .map(tool_spec);
    Ok(prompt)
}

fn tool_spec(tool: &Value) -> ToolSpec {
    let function = tool.get("function");
    let schema = function.and_then(|f| f.get("parameters"));
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
        name: function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        required,
    }
}
