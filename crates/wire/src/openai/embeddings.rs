//! Embeddings (`POST /v1/embeddings`): the request, the response whose vectors are floats or
//! base64 (little-endian `f32`), and the conversions between the two.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::TextOrTokens;

/// An embeddings request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// The model to use.
    pub model: String,
    /// A string, strings, token ids or batches of token ids.
    pub input: TextOrTokens,
    /// `float` (default) or `base64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<EncodingFormat>,
    /// Truncate the vectors to this many dimensions (newer models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// An end-user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Fields this type does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How embedding vectors are encoded in the response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// A JSON array of numbers.
    #[default]
    Float,
    /// A base64 string of little-endian `f32`s.
    Base64,
}

/// An embeddings response (`"object": "list"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// Always `list`.
    #[serde(default = "object_list")]
    pub object: String,
    /// One embedding per input.
    pub data: Vec<Embedding>,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Token usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<EmbeddingUsage>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for EmbeddingResponse {
    fn default() -> Self {
        Self {
            object: object_list(),
            data: Vec::new(),
            model: String::new(),
            usage: None,
            extra: Map::new(),
        }
    }
}

fn object_list() -> String {
    "list".to_owned()
}

/// One embedding (`"object": "embedding"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// Always `embedding`.
    #[serde(default = "object_embedding")]
    pub object: String,
    /// The position of the input this embeds.
    #[serde(default)]
    pub index: u32,
    /// The vector.
    pub embedding: EmbeddingVector,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn object_embedding() -> String {
    "embedding".to_owned()
}

/// `usage` of an embeddings response (no completion tokens).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingUsage {
    /// Tokens in the input.
    pub prompt_tokens: u64,
    /// Same as `prompt_tokens`.
    #[serde(default)]
    pub total_tokens: u64,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An embedding vector: floats, or base64 of little-endian `f32`s.
///
/// Floats are held as `f32`, the precision models compute in: an `f64`-printed `f32` value
/// decodes to the same `f32`, though it re-serializes in its shortest form.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// `encoding_format: "float"`.
    Float(Vec<f32>),
    /// `encoding_format: "base64"`.
    Base64(String),
}

impl EmbeddingVector {
    /// The vector as floats, decoding base64 if needed.
    pub fn to_floats(&self) -> Result<Vec<f32>, EmbeddingDecodeError> {
        match self {
            Self::Float(floats) => Ok(floats.clone()),
            Self::Base64(text) => from_base64(text),
        }
    }

    /// The vector in `format`, encoding or decoding as needed.
    pub fn into_format(self, format: EncodingFormat) -> Result<Self, EmbeddingDecodeError> {
        Ok(match (self, format) {
            (Self::Float(floats), EncodingFormat::Base64) => Self::Base64(to_base64(&floats)),
            (Self::Base64(text), EncodingFormat::Float) => Self::Float(from_base64(&text)?),
            (same, _) => same,
        })
    }
}

impl<'de> Deserialize<'de> for EmbeddingVector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VectorVisitor;

        impl<'de> Visitor<'de> for VectorVisitor {
            type Value = EmbeddingVector;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of numbers or a base64 string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(EmbeddingVector::Base64(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(EmbeddingVector::Base64(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut floats = Vec::with_capacity(seq.size_hint().unwrap_or(1536).min(65536));
                while let Some(x) = seq.next_element::<f32>()? {
                    floats.push(x);
                }
                Ok(EmbeddingVector::Float(floats))
            }
        }

        deserializer.deserialize_any(VectorVisitor)
    }
}

/// Why a base64 embedding could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbeddingDecodeError {
    /// The text is not valid standard base64.
    #[error("embedding is not valid base64: {0}")]
    Base64(String),
    /// The decoded bytes are not a whole number of `f32`s.
    #[error("embedding has {0} bytes, not a multiple of 4")]
    Length(usize),
}

/// Encodes floats as base64 of their little-endian bytes (what `encoding_format: "base64"`
/// returns).
pub fn to_base64(floats: &[f32]) -> String {
    let bytes: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

/// Decodes base64 of little-endian `f32` bytes.
pub fn from_base64(text: &str) -> Result<Vec<f32>, EmbeddingDecodeError> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| EmbeddingDecodeError::Base64(e.to_string()))?;
    let (chunks, rest) = bytes.as_chunks::<4>();
    if !rest.is_empty() {
        return Err(EmbeddingDecodeError::Length(bytes.len()));
    }
    Ok(chunks.iter().map(|c| f32::from_le_bytes(*c)).collect())
}
