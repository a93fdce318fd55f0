//! [`Response`]: a complete (non-streamed) answer in canonical form.

use super::request::Block;
use crate::Usage;

/// A complete answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    /// The provider's id for the answer.
    pub id: String,
    /// The model that answered.
    pub model: String,
    /// The assistant's content blocks, in order.
    pub content: Vec<Block>,
    pub stop_reason: Option<StopReason>,
    /// The stop sequence that ended generation, when one did.
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A natural end, or a stop sequence (OpenAI `stop`, Anthropic `end_turn`/`stop_sequence`).
    Stop,
    /// The token limit (OpenAI `length`, Anthropic `max_tokens`).
    Length,
    /// The model called tools (OpenAI `tool_calls`, Anthropic `tool_use`).
    ToolCalls,
    /// Output was filtered (OpenAI `content_filter`).
    ContentFilter,
    /// The model refused (Anthropic `refusal`).
    Refusal,
    /// A long-running turn paused; send it back to continue (Anthropic `pause_turn`).
    PauseTurn,
}
