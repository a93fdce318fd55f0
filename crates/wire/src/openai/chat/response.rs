//! [`ChatCompletionResponse`]: a non-streamed chat completion, with its choices, message and
//! log probabilities.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::tools::{FunctionCall, ToolCall};
use crate::openai::{FinishReason, Role, Usage};

/// A chat completion (`"object": "chat.completion"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionResponse {
    /// The completion's id.
    #[serde(default)]
    pub id: String,
    /// Always `chat.completion`.
    #[serde(default = "object_chat_completion")]
    pub object: String,
    /// Unix time (seconds) of creation.
    #[serde(default)]
    pub created: u64,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// One choice per `n`.
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Token usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The backend configuration that served the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// The processing tier actually used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for ChatCompletionResponse {
    fn default() -> Self {
        Self {
            id: String::new(),
            object: object_chat_completion(),
            created: 0,
            model: String::new(),
            choices: Vec::new(),
            usage: None,
            system_fingerprint: None,
            service_tier: None,
            extra: Map::new(),
        }
    }
}

fn object_chat_completion() -> String {
    "chat.completion".to_owned()
}

/// One choice of a [`ChatCompletionResponse`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The choice's position.
    #[serde(default)]
    pub index: u32,
    /// The generated message.
    pub message: ResponseMessage,
    /// Why generation stopped (always serialized, `null` when unknown).
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, when requested (always serialized).
    #[serde(default)]
    pub logprobs: Option<ChoiceLogprobs>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The message of a [`Choice`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseMessage {
    /// Always `assistant`.
    #[serde(default)]
    pub role: Role,
    /// The text (always serialized, `null` when the model only called tools).
    #[serde(default)]
    pub content: Option<String>,
    /// A refusal instead of content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Tool calls the model made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// A function call (deprecated with `functions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCall>,
    /// Reasoning text (DeepSeek and other reasoning providers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Annotations such as `url_citation`s from web search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Vec<Value>>,
    /// Audio output (`{"id", "data", "expires_at", "transcript"}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<Value>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Log probabilities of a choice (also used by stream chunks).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChoiceLogprobs {
    /// Per content token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<TokenLogprob>>,
    /// Per refusal token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Vec<TokenLogprob>>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The log probability of one output token and its most likely alternatives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    /// The token.
    pub token: String,
    /// Its log probability.
    pub logprob: f64,
    /// Its UTF-8 bytes (tokens may split characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Vec<u8>>,
    /// The most likely tokens at this position.
    #[serde(default)]
    pub top_logprobs: Vec<TopLogprob>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One alternative of a [`TokenLogprob`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TopLogprob {
    /// The token.
    pub token: String,
    /// Its log probability.
    pub logprob: f64,
    /// Its UTF-8 bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Vec<u8>>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
