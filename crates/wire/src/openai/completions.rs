//! Legacy Completions (`POST /v1/completions`): a prompt in, text out. Streamed responses
//! use the same [`CompletionResponse`] shape per chunk.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{FinishReason, Stop, StreamOptions, TextOrTokens, Usage};

/// A completion request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// The model to use.
    pub model: String,
    /// A string, strings, token ids or batches of token ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<TextOrTokens>,
    /// Generate this many server-side and return the best `n`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_of: Option<u32>,
    /// Echo the prompt before the completion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// -2.0 to 2.0: penalize tokens by how often they appeared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Token id (as a string) to bias, -100 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logit_bias: Option<Map<String, Value>>,
    /// Return this many (max 5) most likely tokens' log probabilities per position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    /// Upper bound on generated tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// How many completions per prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// -2.0 to 2.0: penalize tokens that appeared at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Best-effort deterministic sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Up to four stop sequences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Stream the response as server-sent events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Options for streaming (`include_usage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Text that comes after the completion (insertion).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Sampling temperature, 0 to 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling probability mass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// An end-user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Fields this type does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CompletionRequest {
    /// Whether the client asked for a streamed response.
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }
}

/// A completion (`"object": "text_completion"`), also the shape of each stream chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionResponse {
    /// The completion's id.
    #[serde(default)]
    pub id: String,
    /// Always `text_completion`.
    #[serde(default = "object_text_completion")]
    pub object: String,
    /// Unix time (seconds) of creation.
    #[serde(default)]
    pub created: u64,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// One choice per prompt and `n`.
    #[serde(default)]
    pub choices: Vec<CompletionChoice>,
    /// Token usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The backend configuration that served the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for CompletionResponse {
    fn default() -> Self {
        Self {
            id: String::new(),
            object: object_text_completion(),
            created: 0,
            model: String::new(),
            choices: Vec::new(),
            usage: None,
            system_fingerprint: None,
            extra: Map::new(),
        }
    }
}

fn object_text_completion() -> String {
    "text_completion".to_owned()
}

/// One choice of a [`CompletionResponse`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// The generated text.
    #[serde(default)]
    pub text: String,
    /// The choice's position.
    #[serde(default)]
    pub index: u32,
    /// Log probabilities, when requested (always serialized).
    #[serde(default)]
    pub logprobs: Option<CompletionLogprobs>,
    /// Why generation stopped (always serialized, `null` while streaming).
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Log probabilities of a [`CompletionChoice`], as parallel arrays.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionLogprobs {
    /// The tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<String>>,
    /// Each token's log probability (`null` for the first echoed token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_logprobs: Option<Vec<Option<f64>>>,
    /// Per position, a map of the most likely tokens to their log probabilities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<Vec<Value>>,
    /// Each token's character offset in the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_offset: Option<Vec<u64>>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
