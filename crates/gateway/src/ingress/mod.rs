//! Client-facing endpoints, one module per dialect, plus health probes.

pub mod anthropic;
pub mod gemini;
pub mod health;
pub mod metrics;
pub mod ollama;
pub mod openai;
pub mod responses;
