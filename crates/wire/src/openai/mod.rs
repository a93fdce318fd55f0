//! Typed OpenAI API bodies: chat completions (request, response, stream chunk),
//! legacy completions, embeddings, models and the error body; [`codec`] translates chat
//! completions to and from the canonical model.
//!
//! Every struct keeps the fields it does not know in `extra`, so a body decoded and
//! re-encoded keeps vendor extensions (top level and nested). Optional fields are omitted
//! when `None`, except those OpenAI always sends as `null` (message `content`,
//! `finish_reason`, `logprobs`, error `param`/`code`); readers treat `null` and absent alike.
//! Enums over a `"type"` (content parts, tools, tool calls, response formats) keep unknown
//! types in an `Other(Value)` variant.

pub mod chat;
pub mod codec;
pub mod completions;
pub mod embeddings;
pub mod error;
pub mod models;
pub mod stream;
pub mod usage;

mod common;
pub(crate) mod tagged;

pub use chat::*;
pub use common::{FinishReason, Role, Stop, StreamOptions, TextOrTokens};
pub use completions::{
    CompletionChoice, CompletionLogprobs, CompletionRequest, CompletionResponse,
};
pub use embeddings::{
    Embedding, EmbeddingDecodeError, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage,
    EmbeddingVector, EncodingFormat, from_base64, to_base64,
};
pub use error::{ErrorBody, ErrorObject};
pub use models::{Model, ModelList};
pub use usage::{CompletionTokensDetails, PromptTokensDetails, Usage};
