//! Client-facing endpoints, one module per dialect, plus health probes.

pub mod health;
pub mod openai;
