//! Parsing a generateContent request into the mock model's neutral [`Prompt`]: words of the
//! system instruction and of every text, function call and function response; who spoke
//! last (a user turn of only function responses counts as a tool result); the function an
//! echo would call. The model comes from the path.

use serde_json::{Map, Value};

use crate::turn::{Kind, Prompt, Role, ToolSpec, count_words};

/// Parses a request body; the error is a message for a 400 response.
pub(crate) fn parse(body: &[u8], model: &str, stream: bool) -> Result<Prompt, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("Invalid JSON payload received. {e}"))?;
    let Value::Object(request) = value else {
        return Err("Invalid JSON payload received: not an object".to_owned());
    };
    if let Some(unknown) = ["model", "messages", "stream"]
        .iter()
        .find(|k| request.contains_key(**k))
    {
        return Err(format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\": Cannot find field."
        ));
    }
    let contents = request
        .get("contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
    let mut prompt = Prompt {
        model: model.to_owned(),
        stream,
        include_usage: true,
        ..Prompt::default()
    };
    prompt.words += count_words(&text_of(
        request
            .get("systemInstruction")
            .or_else(|| request.get("system_instruction")),
    ));
    for content in contents {
        let text = text_of(Some(content));
        prompt.words += count_words(&text);
        let parts = content
            .get("parts")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let results_only =
            !parts.is_empty() && parts.iter().all(|p| p.get("functionResponse").is_some());
        prompt.last_role = match content.get("role").and_then(Value::as_str) {
            Some("model") => Role::Other,
            _ if results_only => Role::Tool,
            _ => Role::User,
        };
        if prompt.last_role == Role::User {
            prompt.last_user_text.clone_from(&text);
        }
        prompt.last_text = text;
    }
    prompt.tool = chosen_tool(&request);
    Ok(prompt)
}

/// The text of a content's parts: texts, function-call arguments and function responses
/// (their `result`/`content`/`output` string when they have one, else their JSON), joined
/// by spaces.
fn text_of(content: Option<&Value>) -> String {
    let parts = content
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    parts
        .iter()
        .filter_map(|p| {
            if let Some(text) = p.get("text").and_then(Value::as_str) {
                return Some(text.to_owned());
            }
            if let Some(call) = p.get("functionCall") {
                return call.get("args").map(Value::to_string);
            }
            let response = p.get("functionResponse")?.get("response")?;
            Some(
                ["result", "content", "output"]
                    .iter()
                    .find_map(|k| response.get(*k).and_then(Value::as_str))
                    .map_or_else(|| response.to_string(), str::to_owned),
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The function an echo would call: none without declarations or with mode `NONE`; the
/// first allowed one for mode `ANY` with `allowedFunctionNames`; else the first.
fn chosen_tool(request: &Map<String, Value>) -> Option<ToolSpec> {
    let declarations: Vec<&Value> = request
        .get("tools")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(|t| t.get("functionDeclarations").and_then(Value::as_array))
        .flatten()
        .collect();
    let config = request
        .get("toolConfig")
        .and_then(|c| c.get("functionCallingConfig"));
    let mode = config
        .and_then(|c| c.get("mode"))
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase);
    if mode.as_deref() == Some("NONE") {
        return None;
    }
    let allowed = config
        .and_then(|c| c.get("allowedFunctionNames"))
        .and_then(Value::as_array)
        .and_then(|names| names.first())
        .and_then(Value::as_str);
    match allowed {
        Some(name) => Some(
            declarations
                .iter()
                .map(|d| tool_spec(d))
                .find(|t| t.name == name)
                .unwrap_or_else(|| ToolSpec {
                    name: name.to_owned(),
                    required: Vec::new(),
                }),
        ),
        None => declarations.first().map(|d| tool_spec(d)),
    }
}

fn tool_spec(declaration: &Value) -> ToolSpec {
    let schema = declaration
        .get("parameters")
        .or_else(|| declaration.get("parametersJsonSchema"));
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
                .map_or(Kind::String, |t| {
                    Kind::from_schema_type(&t.to_ascii_lowercase())
                });
            (name.to_owned(), kind)
        })
        .collect();
    ToolSpec {
        name: declaration
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        required,
    }
}
