//! Pure data for Switchboard: dialect wire types, the SSE codec, raw JSON objects and
//! normalized usage. No I/O, no async — everything here is a function over bytes or typed values.
//!
//! - [`anthropic`] — typed Anthropic Messages bodies and stream events.
//! - [`canonical`] — the canonical request, response and stream events every dialect
//!   decodes into and encodes from.
//! - [`sse`] — incremental Server-Sent Events decoder and encoder (the streaming hot path).
//! - [`gemini`] — typed Google Gemini API bodies (generateContent requests, responses,
//!   stream chunks).
//! - [`json`] — [`json::RawObject`], a top-level JSON object whose values stay raw bytes, for
//!   the same-dialect fast path that only rewrites a field or two.
//! - [`ndjson`] — incremental newline-delimited JSON framing (Ollama streams).
//! - [`openai`] — typed OpenAI API bodies (chat, completions, embeddings, models, errors).
//! - [`responses`] — typed OpenAI Responses API bodies and stream events.
//! - [`usage`] — [`Usage`], token counts normalized across providers.
//! - [`Dialect`] / [`WireFormat`] — what a client speaks and what a provider speaks.

pub mod anthropic;
pub mod canonical;
pub mod gemini;
pub mod json;
pub mod ndjson;
pub mod ollama;
pub mod openai;
pub mod responses;
pub mod sse;
pub mod usage;

mod dialect;

pub use dialect::{Dialect, WireFormat};
pub use usage::Usage;
