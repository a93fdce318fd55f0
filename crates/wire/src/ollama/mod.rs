//! The Ollama API (`/api/chat`, `/api/generate`, `/api/embed`, `/api/tags`, …): request and
//! response types as Ollama's clients send and read them, and the [`codec`] to and from the
//! canonical model.
//!
//! Ollama streams newline-delimited JSON: one object per line, `done: false` while content
//! arrives, then one `done: true` object with the stop reason, token counts and durations
//! (nanoseconds). Unknown fields are kept (`extra`) so nothing a client sends is lost.

pub mod codec;
mod types;

pub use types::*;
