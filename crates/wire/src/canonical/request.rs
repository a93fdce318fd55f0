//! [`Request`]: a generation request in canonical form — system prompt, messages of content
//! blocks, tools, and the parameters that steer generation.

use serde_json::{Map, Value};

use crate::Dialect;

/// A generation request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// The model name as the client sent it (the router rewrites it per target).
    pub model: String,
    /// The system prompt, as text blocks (each may carry a cache marker).
    pub system: Vec<Text>,
    /// The conversation: user and assistant turns (tool results are user content).
    pub messages: Vec<Message>,
    /// Tools the model may call.
    pub tools: Vec<Tool>,
    /// Which tool, if any, the model must call.
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)`: at most one tool call per turn.
    pub parallel_tool_calls: Option<bool>,
    /// Structured output.
    pub response_format: Option<ResponseFormat>,
    /// Reasoning (extended thinking).
    pub reasoning: Option<Reasoning>,
    /// Sampling and length parameters.
    pub sampling: Sampling,
    /// Stream the answer.
    pub stream: bool,
    /// An end-user id (OpenAI `user`, Anthropic `metadata.user_id`).
    pub user: Option<String>,
    /// Fields of the source dialect the canonical model has no place for.
    pub passthrough: Passthrough,
}

/// Sampling and length parameters. `None` means the provider's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    /// Upper bound on generated tokens (reasoning included).
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    /// Stop sequences (empty: none).
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
}

/// Fields of one dialect that have no canonical place. Only an encoder of the same dialect
/// puts them back; another dialect's encoder leaves them out (it would reject them).
impl Sampling {
    /// The parameters set here, by their canonical (OpenAI) names.
    pub fn set_names(&self) -> Vec<&'static str> {
        [
            ("max_tokens", self.max_tokens.is_some()),
            ("temperature", self.temperature.is_some()),
            ("top_p", self.top_p.is_some()),
            ("top_k", self.top_k.is_some()),
            ("stop", !self.stop.is_empty()),
            ("seed", self.seed.is_some()),
            ("presence_penalty", self.presence_penalty.is_some()),
            ("frequency_penalty", self.frequency_penalty.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// The parameters set here that an encoder does not send (its `UNSUPPORTED_SAMPLING`).
    pub fn dropped_by(&self, unsupported: &[&'static str]) -> Vec<&'static str> {
        self.set_names()
            .into_iter()
            .filter(|n| unsupported.contains(n))
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Passthrough {
    /// The dialect the fields came from; `None` when there are none.
    pub dialect: Option<Dialect>,
    /// Top-level fields, as sent.
    pub fields: Map<String, Value>,
}

impl Passthrough {
    /// Fields from `dialect` (an empty map is kept as no passthrough).
    pub fn from(dialect: Dialect, fields: Map<String, Value>) -> Self {
        Self {
            dialect: (!fields.is_empty()).then_some(dialect),
            fields,
        }
    }

    /// The fields when encoding for `dialect`: the bag itself when it came from there.
    pub fn for_dialect(&self, dialect: Dialect) -> Option<&Map<String, Value>> {
        (self.dialect == Some(dialect)).then_some(&self.fields)
    }
}

/// Who speaks a message. System prompts live in [`Request::system`]; a system message in the
/// middle of an OpenAI conversation is kept as `System` so it is not moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

/// A content block.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(Text),
    Image(Image),
    /// A tool call made by the model (assistant turns).
    ToolUse(ToolUse),
    /// The result of a tool call (user turns).
    ToolResult(ToolResult),
    /// The model's reasoning (assistant turns).
    Thinking(Thinking),
    /// Reasoning the provider encrypted; sent back unchanged in later turns.
    RedactedThinking {
        data: String,
    },
}

/// Text, with an optional prompt-cache marker (Anthropic `cache_control`, kept as sent).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text {
    pub text: String,
    pub cache_control: Option<Value>,
}

impl Text {
    /// Plain text without a cache marker.
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            cache_control: None,
        }
    }
}

/// An image.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub source: ImageSource,
    /// OpenAI's `detail` (`auto`, `low`, `high`).
    pub detail: Option<String>,
    pub cache_control: Option<Value>,
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Inline bytes, base64-encoded.
    Base64 { media_type: String, data: String },
    /// A URL the provider fetches.
    Url(String),
}

/// A tool call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolUse {
    /// The call's id, echoed by its result (kept stable across dialects).
    pub id: String,
    pub name: String,
    /// The arguments as JSON text (as the model wrote it: not necessarily valid JSON).
    pub arguments: String,
    pub cache_control: Option<Value>,
}

/// The result of a tool call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolResult {
    /// The id of the [`ToolUse`] this answers.
    pub tool_use_id: String,
    pub content: Vec<ToolResultContent>,
    /// The tool failed; the content says how.
    pub is_error: bool,
    pub cache_control: Option<Value>,
}

/// A part of a tool result.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolResultContent {
    Text(Text),
    Image(Image),
}

/// Reasoning text, with the provider's signature that lets it be sent back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thinking {
    pub text: String,
    pub signature: Option<String>,
}

/// A tool the model may call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// The parameters as a JSON Schema object.
    pub parameters: Value,
    /// The arguments must follow the schema exactly (OpenAI `strict`).
    pub strict: Option<bool>,
    pub cache_control: Option<Value>,
    /// The group a Responses `namespace` tool put this function in; `name` is then the
    /// namespace and the function joined by `__` (see `responses::codec`), which is what
    /// every other wire format sees.
    pub namespace: Option<ToolNamespace>,
}

/// A Responses tool namespace: its name and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolNamespace {
    pub name: String,
    pub description: Option<String>,
}

/// Which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool.
    None,
    /// At least one tool (OpenAI `required`, Anthropic `any`).
    Required,
    /// This tool.
    Tool(String),
}

/// Structured output.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON following a schema.
    JsonSchema {
        name: String,
        description: Option<String>,
        schema: Value,
        strict: Option<bool>,
    },
}

/// How much the model should reason. Dialects say it either as an effort level (OpenAI) or
/// as a token budget (Anthropic); [`Reasoning::effort`] and [`Reasoning::budget`] convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reasoning {
    /// Reasoning off.
    Disabled,
    /// An effort level: `minimal`, `low`, `medium`, `high` (or a provider's own word).
    Effort(String),
    /// A token budget.
    Budget(u64),
}

impl Reasoning {
    /// As an effort level: budgets up to 2048 are `low`, up to 8192 `medium`, above `high`.
    pub fn effort(&self) -> Option<&str> {
        match self {
            Self::Disabled => None,
            Self::Effort(e) => Some(e),
            Self::Budget(b) if *b <= 2048 => Some("low"),
            Self::Budget(b) if *b <= 8192 => Some("medium"),
            Self::Budget(_) => Some("high"),
        }
    }

    /// As a token budget: `minimal` 1024, `low` 2048, `medium` 8192, `high` (and unknown
    /// words) 16384; `none` is no budget.
    pub fn budget(&self) -> Option<u64> {
        match self {
            Self::Disabled => None,
            Self::Budget(b) => Some(*b),
            Self::Effort(e) => match e.as_str() {
                "none" => None,
                "minimal" => Some(1024),
                "low" => Some(2048),
                "medium" => Some(8192),
                _ => Some(16384),
            },
        }
    }
}

impl Message {
    /// A message of one text block.
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            content: vec![Block::Text(Text::plain(text))],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effort_and_budget_convert_both_ways() {
        assert_eq!(Reasoning::Budget(1024).effort(), Some("low"));
        assert_eq!(Reasoning::Budget(5000).effort(), Some("medium"));
        assert_eq!(Reasoning::Budget(32000).effort(), Some("high"));
        assert_eq!(Reasoning::Effort("medium".into()).budget(), Some(8192));
        assert_eq!(Reasoning::Effort("none".into()).budget(), None);
        assert_eq!(Reasoning::Disabled.effort(), None);
    }

    #[test]
    fn the_parameters_an_encoder_drops_are_named() {
        let s = Sampling {
            temperature: Some(0.5),
            seed: Some(1),
            top_k: Some(3),
            ..Sampling::default()
        };
        assert_eq!(s.set_names(), ["temperature", "top_k", "seed"]);
        assert_eq!(
            s.dropped_by(crate::anthropic::codec::UNSUPPORTED_SAMPLING),
            ["seed"]
        );
        assert_eq!(
            s.dropped_by(crate::openai::codec::UNSUPPORTED_SAMPLING),
            ["top_k"]
        );
    }

    #[test]
    fn passthrough_only_returns_to_its_dialect() {
        let mut fields = Map::new();
        fields.insert("n".into(), Value::from(2));
        let p = Passthrough::from(Dialect::OpenAi, fields);
        assert!(p.for_dialect(Dialect::OpenAi).is_some());
        assert!(p.for_dialect(Dialect::Anthropic).is_none());
        assert_eq!(Passthrough::from(Dialect::OpenAi, Map::new()).dialect, None);
    }
}
