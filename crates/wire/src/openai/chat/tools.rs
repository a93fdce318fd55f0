//! Tools and structured output: tool definitions, the tool calls a model makes,
//! `tool_choice` and `response_format`. Unknown tool and format types are kept as-is.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::openai::tagged::{self, Tagged, tagged_serde};

/// A tool the model may call, tagged by `type` (`function` when absent).
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    /// `{"type": "function", "function": {...}}`.
    Function(FunctionTool),
    /// Any other tool type (e.g. `custom`), kept as sent.
    Other(Value),
}

tagged_serde!(Tool, default = Some("function"), { "function" => Function });

/// A function tool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionTool {
    /// The function's definition.
    pub function: FunctionDefinition,
    /// Fields this type does not know (e.g. `cache_control`), kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A function the model may call (in `tools[].function` and the deprecated `functions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    /// The function's name.
    pub name: String,
    /// What the function does, for the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The parameters as a JSON Schema object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Whether the arguments must follow the schema exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool call made by the model, tagged by `type` (`function` when absent).
#[derive(Debug, Clone, PartialEq)]
pub enum ToolCall {
    /// `{"id", "type": "function", "function": {"name", "arguments"}}`.
    Function(FunctionToolCall),
    /// Any other tool call type (e.g. `custom`), kept as sent.
    Other(Value),
}

tagged_serde!(ToolCall, default = Some("function"), { "function" => Function });

/// A call of a function tool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionToolCall {
    /// The call's id, echoed by the `tool` message that answers it.
    #[serde(default)]
    pub id: String,
    /// The function and its arguments.
    pub function: FunctionCall,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A function name with its arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    pub name: String,
    /// The arguments as a JSON text (not necessarily valid JSON — models make mistakes).
    pub arguments: String,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `tool_choice`: `"none"`, `"auto"`, `"required"`, or one named function.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    /// Do not call tools.
    None,
    /// The model decides.
    Auto,
    /// Call at least one tool.
    Required,
    /// `{"type": "function", "function": {"name": ...}}`: call this function.
    Named(NamedToolChoice),
    /// Any other form (e.g. `allowed_tools`, `custom`), kept as sent.
    Other(Value),
}

impl ToolChoice {
    /// Forces a call of the function `name`.
    pub fn function(name: impl Into<String>) -> Self {
        Self::Named(NamedToolChoice {
            function: FunctionName {
                name: name.into(),
                extra: Map::new(),
            },
            extra: Map::new(),
        })
    }
}

impl Serialize for ToolChoice {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::None => serializer.serialize_str("none"),
            Self::Auto => serializer.serialize_str("auto"),
            Self::Required => serializer.serialize_str("required"),
            Self::Named(inner) => Tagged {
                kind: "function",
                inner,
            }
            .serialize(serializer),
            Self::Other(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        match value.as_str() {
            Some("none") => return Ok(Self::None),
            Some("auto") => return Ok(Self::Auto),
            Some("required") => return Ok(Self::Required),
            _ => {}
        }
        match tagged::tag_of(&value, None).as_deref() {
            Some("function") => tagged::from_fields(value, "function")
                .map(Self::Named)
                .map_err(serde::de::Error::custom),
            _ => Ok(Self::Other(value)),
        }
    }
}

/// A named function choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedToolChoice {
    /// The function to call.
    pub function: FunctionName,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A function referenced by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionName {
    /// The function's name.
    pub name: String,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `response_format`, tagged by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// `{"type": "text"}`: free text (the default).
    Text(ResponseFormatText),
    /// `{"type": "json_object"}`: JSON mode, any valid JSON object.
    JsonObject(ResponseFormatJsonObject),
    /// `{"type": "json_schema", "json_schema": {...}}`: structured outputs.
    JsonSchema(ResponseFormatJsonSchema),
    /// Any other format (e.g. a provider's `regex` or `grammar`), kept as sent.
    Other(Value),
}

tagged_serde!(ResponseFormat, default = None, {
    "text" => Text,
    "json_object" => JsonObject,
    "json_schema" => JsonSchema,
});

/// `{"type": "text"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseFormatText {
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"type": "json_object"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseFormatJsonObject {
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"type": "json_schema", "json_schema": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseFormatJsonSchema {
    /// The schema the output must follow.
    pub json_schema: JsonSchema,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The schema of a [`ResponseFormatJsonSchema`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonSchema {
    /// The format's name.
    pub name: String,
    /// What the format is for, for the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Whether the output must follow the schema exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
