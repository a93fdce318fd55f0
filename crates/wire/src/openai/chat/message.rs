//! Request messages: a role-tagged [`ChatMessage`] whose content is a string or an array of
//! typed [`ContentPart`]s (text, image, audio, file, refusal; unknown part types kept as-is).

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::tools::{FunctionCall, ToolCall};
use crate::openai::Role;
use crate::openai::tagged::tagged_serde;

/// One message of the conversation, tagged by `role`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    /// Instructions (older models).
    System(ContentMessage),
    /// Instructions (newer models; replaces `system`).
    Developer(ContentMessage),
    /// The end user's input.
    User(ContentMessage),
    /// An earlier model turn: text and/or tool calls (boxed: it is the largest variant).
    Assistant(Box<AssistantMessage>),
    /// The result of a tool call.
    Tool(ToolMessage),
    /// The result of a function call (deprecated with `functions`).
    Function(FunctionMessage),
}

impl ChatMessage {
    /// The message's role.
    pub fn role(&self) -> Role {
        match self {
            Self::System(_) => Role::System,
            Self::Developer(_) => Role::Developer,
            Self::User(_) => Role::User,
            Self::Assistant(_) => Role::Assistant,
            Self::Tool(_) => Role::Tool,
            Self::Function(_) => Role::Function,
        }
    }
}

/// A `system`, `developer` or `user` message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentMessage {
    /// Text, or parts (user messages may carry images, audio and files).
    pub content: MessageContent,
    /// An optional participant name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `assistant` message sent back as conversation history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// Text or parts; `null` when the turn only called tools (always serialized).
    #[serde(default)]
    pub content: Option<MessageContent>,
    /// An optional participant name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A refusal the model gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Tool calls the model made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// A function call the model made (deprecated with `functions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCall>,
    /// A reference to an earlier audio response (`{"id": ...}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<Value>,
    /// Reasoning text of the turn (DeepSeek and other reasoning providers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `tool` message: the result of one tool call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolMessage {
    /// The tool's output.
    pub content: MessageContent,
    /// The `id` of the tool call this answers.
    pub tool_call_id: String,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `function` message (deprecated with `functions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionMessage {
    /// The function's output (always serialized).
    #[serde(default)]
    pub content: Option<String>,
    /// The function's name.
    pub name: String,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Message content: a plain string or an array of parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Typed parts.
    Parts(Vec<ContentPart>),
}

impl Default for MessageContent {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl From<&str> for MessageContent {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for MessageContent {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl MessageContent {
    /// The text of the content: the string itself, or each text part in order.
    pub fn text_parts(&self) -> impl Iterator<Item = &str> {
        let (single, parts) = match self {
            Self::Text(text) => (Some(text.as_str()), &[][..]),
            Self::Parts(parts) => (None, parts.as_slice()),
        };
        single
            .into_iter()
            .chain(parts.iter().filter_map(|part| match part {
                ContentPart::Text(part) => Some(part.text.as_str()),
                _ => None,
            }))
    }
}

impl<'de> Deserialize<'de> for MessageContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContentVisitor;

        impl<'de> Visitor<'de> for ContentVisitor {
            type Value = MessageContent;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MessageContent::Text(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MessageContent::Text(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
                while let Some(part) = seq.next_element()? {
                    parts.push(part);
                }
                Ok(MessageContent::Parts(parts))
            }
        }

        deserializer.deserialize_any(ContentVisitor)
    }
}

/// One part of an array content, tagged by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    /// `{"type": "text", "text": ...}`.
    Text(TextPart),
    /// `{"type": "image_url", "image_url": {"url", "detail"}}`.
    ImageUrl(ImagePart),
    /// `{"type": "input_audio", "input_audio": {"data", "format"}}`.
    InputAudio(AudioPart),
    /// `{"type": "file", "file": {"file_data" | "file_id", "filename"}}`.
    File(FilePart),
    /// `{"type": "refusal", "refusal": ...}` (assistant messages).
    Refusal(RefusalPart),
    /// A part type this crate does not know, kept as sent.
    Other(Value),
}

tagged_serde!(ContentPart, default = None, {
    "text" => Text,
    "image_url" => ImageUrl,
    "input_audio" => InputAudio,
    "file" => File,
    "refusal" => Refusal,
});

/// A text part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextPart {
    /// The text.
    pub text: String,
    /// Fields this type does not know (e.g. `cache_control`), kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An image part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImagePart {
    /// Where the image is.
    pub image_url: ImageUrl,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The image of an [`ImagePart`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// An `https:` URL or a `data:` URL with base64 image data.
    pub url: String,
    /// `auto`, `low` or `high`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An audio input part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioPart {
    /// The audio.
    pub input_audio: InputAudio,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The audio of an [`AudioPart`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputAudio {
    /// Base64-encoded audio data.
    pub data: String,
    /// `wav` or `mp3`.
    pub format: String,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A file part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FilePart {
    /// The file.
    pub file: FileInput,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The file of a [`FilePart`]: inline data or an uploaded file id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileInput {
    /// Base64-encoded file data (usually a `data:` URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    /// The id of an uploaded file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// The file name, when sending data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A refusal part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefusalPart {
    /// The refusal text.
    pub refusal: String,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
