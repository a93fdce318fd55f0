//! Gemini ↔ the canonical model: requests, responses and stream chunks.
//!
//! What does not survive, on purpose:
//! - Gemini calls often carry no id. A call without one gets `call_{turn}_{part}` from its
//!   place in the conversation, and a `functionResponse` without one answers the earliest
//!   unanswered call of the same name — so a later turn maps to the same id every time the
//!   history is sent again;
//! - `parameters` / `responseSchema` (OpenAPI schemas) become JSON Schema: types are
//!   lower-cased, `nullable` becomes a `null` type, `propertyOrdering` is dropped;
//! - `inlineData` / `fileData` other than images, and tools other than function
//!   declarations, cannot be translated (an error names them);
//! - `candidateCount` above 1 is refused; `safetySettings` and other unknown top-level fields
//!   ride in the passthrough bag (no other dialect's encoder sends them);
//! - a `thoughtSignature` on a non-thought part, and redacted thinking, are dropped;
//! - a tool result is `response.result` / `output` / `content` when that is the only, string
//!   field, `response.error` for a failure, and the response as JSON text otherwise.

mod request;
mod response;
mod stream;
#[cfg(test)]
mod tests;

pub use request::{decode_request, encode_request, json_schema};
pub use response::{decode_response, encode_response, finish_reason, stop_reason};
pub use stream::{ChunkDecoder, ChunkEncoder};

use crate::gemini::UsageMetadata;
use crate::usage::Usage;

/// Normalized usage from Gemini's: the prompt count includes the cache, the candidates
/// count excludes thoughts.
pub fn decode_usage(u: &UsageMetadata) -> Usage {
    let prompt = u.prompt_token_count.unwrap_or(0);
    let cached = u.cached_content_token_count.unwrap_or(0).min(prompt);
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    Usage {
        input: prompt - cached,
        cache_read: cached,
        cache_write: 0,
        output: u.candidates_token_count.unwrap_or(0) + thoughts,
        reasoning: thoughts,
    }
}

/// Gemini usage from normalized usage: cache writes count as prompt tokens (Gemini has no
/// field for them); zero cache and thought counts are left out, as Gemini does.
pub fn encode_usage(u: &Usage) -> UsageMetadata {
    let prompt = u.input + u.cache_read + u.cache_write;
    let reasoning = u.reasoning.min(u.output);
    UsageMetadata {
        prompt_token_count: Some(prompt),
        cached_content_token_count: (u.cache_read > 0).then_some(u.cache_read),
        candidates_token_count: Some(u.output - reasoning),
        thoughts_token_count: (reasoning > 0).then_some(reasoning),
        tool_use_prompt_token_count: None,
        total_token_count: Some(prompt + u.output),
    }
}
