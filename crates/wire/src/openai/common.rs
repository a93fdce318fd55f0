//! Small types shared by several OpenAI endpoints: roles, finish reasons, stop sequences,
//! stream options and the "text or tokens" input of completions and embeddings.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// The author of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions (older models).
    System,
    /// Instructions (newer models; replaces `system`).
    Developer,
    /// The end user.
    User,
    /// The model.
    #[default]
    Assistant,
    /// A tool result.
    Tool,
    /// A function result (deprecated with `functions`).
    Function,
}

impl Role {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Developer => "developer",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
            Self::Function => "function",
        }
    }
}

/// Why the model stopped generating.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// A natural stop point or a stop sequence.
    Stop,
    /// The token limit was reached.
    Length,
    /// The model called one or more tools.
    ToolCalls,
    /// Content was omitted by a filter.
    ContentFilter,
    /// The model called a function (deprecated with `functions`).
    FunctionCall,
    /// A value from a provider that OpenAI does not define, kept as sent.
    Other(String),
}

impl FinishReason {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
            Self::FunctionCall => "function_call",
            Self::Other(other) => other,
        }
    }
}

impl From<&str> for FinishReason {
    fn from(s: &str) -> Self {
        match s {
            "stop" => Self::Stop,
            "length" => Self::Length,
            "tool_calls" => Self::ToolCalls,
            "content_filter" => Self::ContentFilter,
            "function_call" => Self::FunctionCall,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FinishReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self::from(&*s))
    }
}

/// Up to four stop sequences: one string or an array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// A single stop sequence.
    One(String),
    /// Several stop sequences.
    Many(Vec<String>),
}

impl Stop {
    /// The stop sequences as a slice, whichever form was sent.
    pub fn as_slice(&self) -> &[String] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

/// `stream_options` of a streaming request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with `usage` and empty `choices` before `[DONE]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Input given as text or as token ids: the `prompt` of a completion and the `input` of an
/// embedding request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TextOrTokens {
    /// One string.
    Text(String),
    /// Several strings (a batch).
    Texts(Vec<String>),
    /// One sequence of token ids.
    Tokens(Vec<u32>),
    /// Several sequences of token ids (a batch).
    TokenBatches(Vec<Vec<u32>>),
}

impl Default for TextOrTokens {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl<'de> Deserialize<'de> for TextOrTokens {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextOrTokensVisitor)
    }
}

struct TextOrTokensVisitor;

impl<'de> Visitor<'de> for TextOrTokensVisitor {
    type Value = TextOrTokens;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a string, an array of strings, an array of token ids or an array of token id arrays",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(TextOrTokens::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(TextOrTokens::Text(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let capacity = seq.size_hint().unwrap_or(0).min(4096);
        // The first element decides the form; the rest must match it.
        Ok(match seq.next_element::<FirstItem>()? {
            None => TextOrTokens::Texts(Vec::new()),
            Some(FirstItem::Text(first)) => TextOrTokens::Texts(collect(first, capacity, seq)?),
            Some(FirstItem::Token(first)) => TextOrTokens::Tokens(collect(first, capacity, seq)?),
            Some(FirstItem::Tokens(first)) => {
                TextOrTokens::TokenBatches(collect(first, capacity, seq)?)
            }
        })
    }
}

fn collect<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(
    first: T,
    capacity: usize,
    mut seq: A,
) -> Result<Vec<T>, A::Error> {
    let mut items = Vec::with_capacity(capacity.max(1));
    items.push(first);
    while let Some(item) = seq.next_element()? {
        items.push(item);
    }
    Ok(items)
}

/// The first element of a [`TextOrTokens`] array.
enum FirstItem {
    Text(String),
    Token(u32),
    Tokens(Vec<u32>),
}

impl<'de> Deserialize<'de> for FirstItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FirstItemVisitor;

        impl<'de> Visitor<'de> for FirstItemVisitor {
            type Value = FirstItem;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a token id or an array of token ids")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FirstItem::Text(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(FirstItem::Text(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                u32::try_from(v)
                    .map(FirstItem::Token)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &"a token id"))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut tokens = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(65536));
                while let Some(token) = seq.next_element()? {
                    tokens.push(token);
                }
                Ok(FirstItem::Tokens(tokens))
            }
        }

        deserializer.deserialize_any(FirstItemVisitor)
    }
}
