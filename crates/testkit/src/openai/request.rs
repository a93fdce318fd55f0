//! Reading OpenAI requests into the mock's neutral views. Lenient by design: any JSON
//! object is accepted, and fields of an unexpected shape read as absent.

use serde_json::{Map, Value};

use crate::embed::EmbedInput;
use crate::turn::{Kind, Prompt, Role, ToolSpec, count_words};

/// The OpenAI endpoints that take scripted replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Chat,
    Completions,
    Embeddings,
}

/// An embeddings request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EmbedRequest {
    pub model: String,
    pub inputs: Vec<EmbedInput>,
    pub dimensions: usize,
    pub base64: bool,
}

/// Vector length when the request names no `dimensions`.
const DEFAULT_DIMENSIONS: usize = 8;
/// Upper bound on `dimensions`, so a typo cannot make the mock allocate gigabytes.
const MAX_DIMENSIONS: usize = 65_536;

/// A parsed request body.
#[derive(Clone, Debug)]
pub(crate) enum Parsed {
    Chat(Prompt),
    Completion(Prompt),
    Embeddings(EmbedRequest),
}

impl Parsed {
    /// What fault replies use when the body could not be parsed.
    pub(crate) fn fallback(endpoint: Endpoint) -> Parsed {
        match endpoint {
            Endpoint::Chat => Parsed::Chat(Prompt::default()),
            Endpoint::Completions => Parsed::Completion(Prompt::default()),
            Endpoint::Embeddings => Parsed::Embeddings(EmbedRequest {
                model: String::new(),
                inputs: Vec::new(),
                dimensions: DEFAULT_DIMENSIONS,
                base64: false,
            }),
        }
    }

    pub(crate) fn stream(&self) -> bool {
        match self {
            Parsed::Chat(prompt) | Parsed::Completion(prompt) => prompt.stream,
            Parsed::Embeddings(_) => false,
        }
    }
}

/// Parses a request body; the error is a message for a 400 response.
pub(crate) fn parse(endpoint: Endpoint, body: &[u8]) -> Result<Parsed, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("We could not parse the JSON body of your request: {e}"))?;
    let Value::Object(request) = value else {
        return Err("The request body must be a JSON object.".to_owned());
    };
    Ok(match endpoint {
        Endpoint::Chat => Parsed::Chat(chat(&request)),
        Endpoint::Completions => Parsed::Completion(completion(&request)),
        Endpoint::Embeddings => Parsed::Embeddings(embeddings(&request)),
    })
}

fn chat(request: &Map<String, Value>) -> Prompt {
    let mut prompt = common(request);
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for message in messages {
        let text = content_text(message.get("content"));
        prompt.words += count_words(&text);
        prompt.last_role = match message.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("tool") => Role::Tool,
            _ => Role::Other,
        };
        if prompt.last_role == Role::User {
            prompt.last_user_text.clone_from(&text);
        }
        prompt.last_text = text;
    }
    prompt.tool = chosen_tool(request);
    prompt
}

fn completion(request: &Map<String, Value>) -> Prompt {
    let mut prompt = common(request);
    let text = match request.get("prompt") {
        Some(Value::Array(items)) => items.first().map(value_text).unwrap_or_default(),
        Some(other) => value_text(other),
        None => String::new(),
    };
    prompt.words = count_words(&text);
    prompt.last_user_text.clone_from(&text);
    prompt.last_text = text;
    prompt
}

fn common(request: &Map<String, Value>) -> Prompt {
    Prompt {
        model: string_field(request, "model"),
        stream: request.get("stream").and_then(Value::as_bool) == Some(true),
        include_usage: request
            .get("stream_options")
            .and_then(|options| options.get("include_usage"))
            .and_then(Value::as_bool)
            == Some(true),
        ..Prompt::default()
    }
}

fn embeddings(request: &Map<String, Value>) -> EmbedRequest {
    let inputs = match request.get("input") {
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_number) => {
            vec![EmbedInput::Tokens(tokens(items))]
        }
        Some(Value::Array(items)) => items.iter().map(embed_input).collect(),
        Some(other) => vec![embed_input(other)],
        None => Vec::new(),
    };
    let dimensions =
        request
            .get("dimensions")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_DIMENSIONS, |d| {
                usize::try_from(d)
                    .unwrap_or(MAX_DIMENSIONS)
                    .clamp(1, MAX_DIMENSIONS)
            });
    EmbedRequest {
        model: string_field(request, "model"),
        inputs,
        dimensions,
        base64: request.get("encoding_format").and_then(Value::as_str) == Some("base64"),
    }
}

fn embed_input(value: &Value) -> EmbedInput {
    match value {
        Value::Array(items) => EmbedInput::Tokens(tokens(items)),
        other => EmbedInput::Text(value_text(other)),
    }
}

fn tokens(items: &[Value]) -> Vec<u64> {
    items.iter().filter_map(Value::as_u64).collect()
}

/// The tool an echo would call: none without tools or with `tool_choice: "none"`; the
/// named one for `{"type":"function","function":{"name":..}}`; else the first.
fn chosen_tool(request: &Map<String, Value>) -> Option<ToolSpec> {
    let tools = request.get("tools").and_then(Value::as_array)?;
    let first = tools.first()?;
    let choice = request.get("tool_choice");
    if choice.and_then(Value::as_str) == Some("none") {
        return None;
    }
    let named = choice
        .and_then(|c| c.get("function").unwrap_or(c).get("name"))
        .and_then(Value::as_str);
    let Some(name) = named else {
        return Some(tool_spec(first));
    };
    let spec = tools
        .iter()
        .map(tool_spec)
        .find(|spec| spec.name == name)
        .unwrap_or_else(|| ToolSpec {
            name: name.to_owned(),
            required: Vec::new(),
        });
    Some(spec)
}

/// Name and required parameters of a tool (`{"type":"function","function":{..}}`, or the
/// flat `{"name":..,"parameters":..}` form).
fn tool_spec(tool: &Value) -> ToolSpec {
    let function = tool.get("function").unwrap_or(tool);
    let parameters = function.get("parameters");
    let properties = parameters.and_then(|p| p.get("properties"));
    let required = parameters
        .and_then(|p| p.get("required"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(Value::as_str)
        .map(|name| {
            let schema_type = properties
                .and_then(|p| p.get(name))
                .and_then(|p| p.get("type"));
            (name.to_owned(), kind_of(schema_type))
        })
        .collect();
    ToolSpec {
        name: function
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        required,
    }
}

/// `"type": "integer"` or `"type": ["string", "null"]` → the first non-null kind.
fn kind_of(schema_type: Option<&Value>) -> Kind {
    let name = match schema_type {
        Some(Value::String(name)) => name.as_str(),
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .find(|name| *name != "null")
            .unwrap_or("string"),
        _ => "string",
    };
    Kind::from_schema_type(name)
}

/// Message content as text: a string, or the text parts of an array joined by spaces.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|part| {
                    matches!(
                        part.get("type").and_then(Value::as_str),
                        None | Some("text")
                    )
                })
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect();
            texts.join(" ")
        }
        _ => String::new(),
    }
}

fn string_field(request: &Map<String, Value>, name: &str) -> String {
    request
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A string as itself, anything else as its JSON text.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use serde_json::json;

    fn chat_prompt(body: Value) -> Prompt {
        match parse(Endpoint::Chat, body.to_string().as_bytes()).unwrap() {
            Parsed::Chat(prompt) => prompt,
            other => panic!("not a chat: {other:?}"),
        }
    }

    #[test]
    fn invalid_json_and_non_objects_are_errors() {
        assert!(parse(Endpoint::Chat, b"{nope").is_err());
        assert!(parse(Endpoint::Chat, b"[1]").is_err());
    }

    #[test]
    fn chat_reads_text_parts_roles_and_words() {
        let prompt = chat_prompt(json!({
            "model": "gpt-4o",
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [
                    {"type": "text", "text": "hello"},
                    {"type": "image_url", "image_url": {"url": "data:x"}},
                    {"type": "text", "text": "world"}
                ]}
            ]
        }));
        assert_eq!(prompt.model, "gpt-4o");
        assert!(prompt.stream && prompt.include_usage);
        assert_eq!(prompt.last_role, Role::User);
        assert_eq!(prompt.last_user_text, "hello world");
        assert_eq!(prompt.words, 4);
        assert!(prompt.tool.is_none());
    }

    #[test]
    fn tool_choice_selects_the_tool() {
        let tools = json!([
            {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "b", "parameters": {
                "type": "object",
                "properties": {"n": {"type": ["integer", "null"]}, "s": {"type": "string"}},
                "required": ["n", "s"]
            }}}
        ]);
        let messages = json!([{"role": "user", "content": "hi"}]);
        let first = chat_prompt(json!({"messages": messages, "tools": tools}));
        assert_eq!(first.tool.unwrap().name, "a");
        let none =
            chat_prompt(json!({"messages": messages, "tools": tools, "tool_choice": "none"}));
        assert!(none.tool.is_none());
        let named = chat_prompt(json!({
            "messages": messages, "tools": tools,
            "tool_choice": {"type": "function", "function": {"name": "b"}}
        }));
        let spec = named.tool.unwrap();
        assert_eq!(spec.name, "b");
        assert_eq!(
            spec.required,
            [
                ("n".to_owned(), Kind::Number),
                ("s".to_owned(), Kind::String)
            ]
        );
    }

    #[test]
    fn completion_takes_the_first_prompt() {
        let Ok(Parsed::Completion(prompt)) = parse(
            Endpoint::Completions,
            br#"{"model":"m","prompt":["one two","x"]}"#,
        ) else {
            panic!("not a completion");
        };
        assert_eq!(prompt.last_user_text, "one two");
        assert_eq!(prompt.words, 2);
    }

    #[test]
    fn embeddings_accept_strings_and_token_arrays() {
        let parse_embed =
            |body: Value| match parse(Endpoint::Embeddings, body.to_string().as_bytes()) {
                Ok(Parsed::Embeddings(request)) => request,
                other => panic!("not embeddings: {other:?}"),
            };
        let single =
            parse_embed(json!({"input": "hi", "dimensions": 4, "encoding_format": "base64"}));
        assert_eq!(single.inputs, [EmbedInput::Text("hi".into())]);
        assert_eq!(single.dimensions, 4);
        assert!(single.base64);
        let tokens = parse_embed(json!({"input": [1, 2, 3]}));
        assert_eq!(tokens.inputs, [EmbedInput::Tokens(vec![1, 2, 3])]);
        assert_eq!(tokens.dimensions, DEFAULT_DIMENSIONS);
        let many = parse_embed(json!({"input": ["a", [4, 5]]}));
        assert_eq!(
            many.inputs,
            [EmbedInput::Text("a".into()), EmbedInput::Tokens(vec![4, 5])]
        );
    }
}
