//! The canonical model: one shape for requests, responses and stream events that every
//! dialect decodes into and encodes from. Translating OpenAI → Anthropic is
//! `openai::codec::decode_*` then `anthropic::codec::encode_*`; no pair of dialects knows
//! about the other.
//!
//! The canonical types are a superset of what the dialects say: content blocks (text,
//! image, tool call, tool result, thinking with signature, redacted thinking, cache
//! markers), sampling parameters, reasoning, structured output, stop reasons and normalized
//! [`Usage`](crate::Usage). What one dialect knows and the canonical model does not stays in
//! a [`Passthrough`] bag that only the same dialect's encoder puts back.
//!
//! - [`request`] — [`Request`], its messages and tools.
//! - [`response`] — [`Response`] and [`StopReason`].
//! - [`stream`] — [`StreamEvent`]: the block-structured delta stream.
//! - [`think`] — `<think>…</think>` in model text moved into thinking blocks.

mod estimate;
pub mod request;
pub mod response;
pub mod stream;
pub mod think;

#[cfg(test)]
pub(crate) mod arb;

pub use estimate::{IMAGE_TOKENS, estimate_input_tokens};
pub use request::{
    Block, Image, ImageSource, Message, Passthrough, Reasoning, Request, ResponseFormat, Role,
    Sampling, Text, Thinking, Tool, ToolChoice, ToolNamespace, ToolResult, ToolResultContent,
    ToolUse,
};
pub use response::{Response, StopReason};
pub use stream::{BlockKind, Delta, StreamEvent};

/// A request or response that a dialect's decoder could not turn into canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    /// The field at fault, e.g. `messages[2].content[0]`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl DecodeError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Self {
            message: format!("{field}: {message}"),
            field,
        }
    }
}
