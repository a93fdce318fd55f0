//! Responses API request bodies and the items they are made of. Output items (messages,
//! function calls, reasoning) are the same [`Item`]s, so a response's output can be sent back
//! as input unchanged.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::openai::tagged::tagged_serde;

/// `POST /v1/responses`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponsesRequest {
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
    /// A system (developer) message put in front of the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Fields this gateway does not model (`include`, `truncation`, `prompt_cache_key`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `input`: one user message as a string, or a list of items.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Items(Vec<Item>),
}

impl<'de> Deserialize<'de> for Input {
    /// Not `untagged`: an item that does not parse is named in the error.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(deserializer)? {
            Value::String(s) => Ok(Self::Text(s)),
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    serde_json::from_value(item)
                        .map_err(|e| D::Error::custom(format!("input[{i}]: {e}")))
                })
                .collect::<Result<_, _>>()
                .map(Self::Items),
            other => Err(D::Error::custom(format!(
                "input: expected a string or a list of items, not {}",
                match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    _ => "an object",
                }
            ))),
        }
    }
}

/// An input or output item, tagged by `type` (a message may leave it out).
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Message(MessageItem),
    FunctionCall(FunctionCallItem),
    FunctionCallOutput(FunctionCallOutputItem),
    Reasoning(ReasoningItem),
    /// `web_search_call`, `file_search_call`, `item_reference`, …: kept as sent.
    Other(Value),
}

tagged_serde!(Item, default = Some("message"), {
    "message" => Message,
    "function_call" => FunctionCall,
    "function_call_output" => FunctionCallOutput,
    "reasoning" => Reasoning,
});

impl Item {
    /// The item's `type`.
    pub fn kind(&self) -> &str {
        match self {
            Self::Message(_) => "message",
            Self::FunctionCall(_) => "function_call",
            Self::FunctionCallOutput(_) => "function_call_output",
            Self::Reasoning(_) => "reasoning",
            Self::Other(v) => v.get("type").and_then(Value::as_str).unwrap_or("?"),
        }
    }
}

/// A message: `user`, `assistant`, `system` or `developer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub role: String,
    pub content: MessageContent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A message's content: a string or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// A part of a message, tagged by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    InputText(InputText),
    OutputText(OutputText),
    InputImage(ImagePart),
    /// `refusal`, `input_file`, `input_audio`, …: kept as sent.
    Other(Value),
}

tagged_serde!(ContentPart, default = None, {
    "input_text" => InputText,
    "output_text" => OutputText,
    "input_image" => InputImage,
});

impl ContentPart {
    /// The part's `type`.
    pub fn kind(&self) -> &str {
        match self {
            Self::InputText(_) => "input_text",
            Self::OutputText(_) => "output_text",
            Self::InputImage(_) => "input_image",
            Self::Other(v) => v.get("type").and_then(Value::as_str).unwrap_or("?"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputText {
    pub text: String,
}

/// Text the model wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputText {
    pub text: String,
    #[serde(default)]
    pub annotations: Vec<Value>,
}

/// `input_image`: a URL (or a `data:` URL), or a file id this gateway cannot resolve.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImagePart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A call of a function tool by the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub call_id: String,
    pub name: String,
    /// The namespace of a function from a `namespace` tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default)]
    pub arguments: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The result of a function call, sent by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallOutputItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub call_id: String,
    /// A string, or a list of `input_text` / `input_image` parts.
    pub output: MessageContent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The model's reasoning: a summary, and its encrypted form when the provider gives one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasoningItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub summary: Vec<SummaryText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `{"type": "summary_text", "text": …}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SummaryText {
    #[serde(rename = "type", default = "summary_text")]
    pub kind: String,
    pub text: String,
}

fn summary_text() -> String {
    "summary_text".into()
}

impl SummaryText {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            kind: summary_text(),
            text: text.into(),
        }
    }
}

/// A tool, tagged by `type`; `function` tools and the `namespace`s grouping them are modelled.
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    Function(FunctionTool),
    Namespace(NamespaceTool),
    /// `web_search`, `file_search`, `computer_use_preview`, `custom`, …: kept as sent.
    Other(Value),
}

tagged_serde!(Tool, default = None, {
    "function" => Function,
    "namespace" => Namespace,
});

impl Tool {
    /// The tool's `type`.
    pub fn kind(&self) -> &str {
        match self {
            Self::Function(_) => "function",
            Self::Namespace(_) => "namespace",
            Self::Other(v) => v.get("type").and_then(Value::as_str).unwrap_or("?"),
        }
    }

    /// The tool's `name`, when it has one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Function(f) => Some(&f.name),
            Self::Namespace(n) => Some(&n.name),
            Self::Other(v) => v.get("name").and_then(Value::as_str),
        }
    }
}

/// Function tools grouped under a name; the model's calls of them name the namespace
/// (`function_call.namespace`) beside the function.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NamespaceTool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tools: Vec<Tool>,
}

/// A function tool (flat: `name` sits beside `type`, unlike chat completions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionTool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `tool_choice`: `"auto"`, `"none"`, `"required"`, or an object naming a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(String),
    Object(Value),
}

/// `text`: the output format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    /// `{"type": "text"}`, `{"type": "json_object"}` or
    /// `{"type": "json_schema", "name", "schema", "description", "strict"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `reasoning`: `effort` (`minimal`, `low`, `medium`, `high`) and `summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasoningConfig {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
