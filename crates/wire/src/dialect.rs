//! The API dialect a client speaks ([`Dialect`]) and the wire format a provider speaks
//! ([`WireFormat`]). Both are closed enums: adding a variant must break every `match`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The API dialect a client uses to talk to the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// OpenAI Chat Completions / Completions / Embeddings / Models.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// The Ollama API (`/api/chat`, `/api/generate`, …).
    Ollama,
    /// Google Gemini API (`/v1beta/models/{model}:generateContent` and friends).
    Gemini,
    /// OpenAI Responses (`/v1/responses`).
    Responses,
}

impl Dialect {
    /// The stable lowercase name, as used in configuration and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Ollama => "ollama",
            Self::Gemini => "gemini",
            Self::Responses => "responses",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wire format a provider speaks upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireFormat {
    /// OpenAI-compatible HTTP API (`/v1/chat/completions` and friends).
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// Google Gemini (`models/{model}:generateContent` / `:streamGenerateContent?alt=sse`),
    /// on Google AI Studio or Vertex AI.
    Gemini,
    /// Ollama's native API (`/api/chat`, NDJSON streams).
    Ollama,
}

impl WireFormat {
    /// The stable lowercase name, as used in configuration and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Ollama => "ollama",
        }
    }
}

impl fmt::Display for WireFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable() -> Result<(), serde_json::Error> {
        assert_eq!(Dialect::OpenAi.as_str(), "openai");
        assert_eq!(WireFormat::OpenAi.to_string(), "openai");
        assert_eq!(serde_json::to_string(&Dialect::Anthropic)?, "\"anthropic\"");
        assert_eq!(serde_json::to_string(&Dialect::OpenAi)?, "\"openai\"");
        assert_eq!(
            serde_json::from_str::<WireFormat>("\"openai\"")?,
            WireFormat::OpenAi
        );
        assert!(serde_json::from_str::<Dialect>("\"open_ai\"").is_err());
        Ok(())
    }
}
