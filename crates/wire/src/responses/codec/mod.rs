//! Responses API ↔ the canonical model: requests, responses and stream events (both ways).
//!
//! What does not survive, on purpose:
//! - `developer` messages become system messages; several `instructions`-like system texts
//!   are joined into one `instructions` on the way back;
//! - `store`, `metadata` and `previous_response_id` ride in the passthrough bag (the gateway
//!   resolves `previous_response_id` itself before decoding);
//! - a reasoning item's summary parts are joined into one thinking text; its
//!   `encrypted_content` is the thinking's signature;
//! - a `namespace` tool's functions are flattened to `{namespace}__{function}` and grouped
//!   again on the way back; hosted web search is dropped; other tools than functions are
//!   refused with an error naming them (see `tools`);
//! - items other than messages, function calls, their outputs and reasoning, and file inputs
//!   are refused with an error naming them;
//! - usage: `input_tokens` include cache reads and writes (OpenAI's convention), so a cache
//!   write decodes as plain input.

mod decode_stream;
mod request;
mod response;
mod stream;
#[cfg(test)]
mod tests;
mod tools;

pub use decode_stream::{EventDecoder, StreamFailure};
pub use request::{decode_request, encode_request};
pub use response::{base_response, decode_response, encode_response};
pub use stream::EventEncoder;

use crate::responses::{InputTokensDetails, OutputTokensDetails, ResponseUsage};
use crate::usage::Usage;

/// Normalized usage from the Responses API's (whose input includes the cached tokens).
pub fn decode_usage(usage: &ResponseUsage) -> Usage {
    let cache_read = usage
        .input_tokens_details
        .cached_tokens
        .min(usage.input_tokens);
    Usage {
        input: usage.input_tokens - cache_read,
        cache_read,
        cache_write: 0,
        output: usage.output_tokens,
        reasoning: usage
            .output_tokens_details
            .reasoning_tokens
            .min(usage.output_tokens),
    }
}

/// The Responses API's usage from normalized usage.
pub fn encode_usage(usage: &Usage) -> ResponseUsage {
    let input = usage.input + usage.cache_read + usage.cache_write;
    ResponseUsage {
        input_tokens: input,
        input_tokens_details: InputTokensDetails {
            cached_tokens: usage.cache_read,
        },
        output_tokens: usage.output,
        output_tokens_details: OutputTokensDetails {
            reasoning_tokens: usage.reasoning,
        },
        total_tokens: input + usage.output,
    }
}
