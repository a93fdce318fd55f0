//! Anthropic Messages ↔ the canonical model: requests, responses and stream events.
//!
//! What does not survive, on purpose:
//! - a tool call's arguments that are not a JSON object are sent as `{}` (Anthropic wants an
//!   object); empty arguments are `{}` as well;
//! - thinking without a signature (reasoning from another provider) is not sent back to
//!   Anthropic, which would reject it;
//! - `seed`, penalties and `strict` have no Anthropic request field and are dropped;
//! - structured output (JSON schema or JSON object) becomes a tool the model is made to call,
//!   unwrapped back to text on the way out (see [`structured`]);
//! - a system message in the middle of a conversation becomes user text; consecutive turns
//!   of the same role are merged into one (Anthropic alternates roles);
//! - usage has no reasoning breakdown: reasoning is part of `output_tokens`.

mod request;
mod response;
mod stream;
pub mod structured;
#[cfg(test)]
mod tests;

pub use request::{decode_request, encode_request};
pub use response::{decode_response, encode_response, stop_reason, wire_stop_reason};
pub use stream::{EventDecoder, EventEncoder, StreamError};

use crate::anthropic;
use crate::usage::Usage;

/// Sampling parameters (canonical names) the Messages API has no field for: not sent.
pub const UNSUPPORTED_SAMPLING: &[&str] = &["seed", "presence_penalty", "frequency_penalty"];

/// Normalized usage from Anthropic's: `input_tokens` already excludes the cache.
pub fn decode_usage(usage: &anthropic::Usage) -> Usage {
    Usage {
        input: usage.input_tokens.unwrap_or(0),
        cache_read: usage.cache_read_input_tokens.unwrap_or(0),
        cache_write: usage.cache_creation_input_tokens.unwrap_or(0),
        output: usage.output_tokens.unwrap_or(0),
        reasoning: 0,
    }
}

/// Anthropic usage from normalized usage (every count present).
pub fn encode_usage(usage: &Usage) -> anthropic::Usage {
    anthropic::Usage {
        input_tokens: Some(usage.input),
        cache_creation_input_tokens: Some(usage.cache_write),
        cache_read_input_tokens: Some(usage.cache_read),
        output_tokens: Some(usage.output),
        extra: serde_json::Map::new(),
    }
}
