//! OpenAI Chat Completions ↔ the canonical model: requests, responses and stream chunks.
//!
//! What does not survive, on purpose:
//! - `cache_control` markers are dropped when encoding (OpenAI caches prompts on its own and
//!   rejects unknown fields); `top_k` is dropped (no such parameter);
//! - thinking signatures and redacted thinking have no place in Chat Completions and are
//!   dropped; thinking text travels as `reasoning_content`;
//! - an error tool result is sent as its text prefixed with `Error: `;
//! - images in tool results move to a user message right after the tool messages (OpenAI
//!   tool messages carry text only);
//! - usage: cache writes are folded into `prompt_tokens` (OpenAI has no field for them).
//!
//! Request fields the canonical model does not know (`n`, `logprobs`, `metadata`, vendor
//! extensions, …) travel in [`Passthrough`](crate::canonical::Passthrough) and come back
//! only when encoding for OpenAI again.

mod request;
mod response;
mod stream;
#[cfg(test)]
mod tests;

pub use request::{decode_request, encode_request};
pub use response::{decode_response, encode_response, finish_reason, stop_reason};
pub use stream::{ChunkDecoder, ChunkEncoder, ChunkOut};

use crate::Usage;
use crate::openai;

/// Sampling parameters (canonical names) Chat Completions has no field for: not sent.
pub const UNSUPPORTED_SAMPLING: &[&str] = &["top_k"];

/// OpenAI `usage` from normalized usage: `prompt_tokens` includes cache reads and writes,
/// `completion_tokens` includes reasoning.
pub fn encode_usage(usage: &Usage) -> openai::Usage {
    let prompt = usage
        .input
        .saturating_add(usage.cache_read)
        .saturating_add(usage.cache_write);
    let mut out = openai::Usage::new(prompt, usage.output);
    out.prompt_tokens_details = Some(openai::PromptTokensDetails {
        cached_tokens: Some(usage.cache_read),
        ..Default::default()
    });
    out.completion_tokens_details = Some(openai::CompletionTokensDetails {
        reasoning_tokens: Some(usage.reasoning),
        ..Default::default()
    });
    out
}
