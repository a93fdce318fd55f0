//! Typed Anthropic Messages API bodies (`POST /v1/messages`): the request with its content
//! blocks and tools, the response, the stream events and the error body; [`codec`]
//! translates them to and from the canonical model.
//!
//! As in [`crate::openai`], structs keep fields they do not know in `extra`, and enums over
//! a `"type"` keep unknown types in an `Other(Value)` variant, so a body decoded and
//! re-encoded loses nothing.

pub mod codec;
mod error;
mod request;
mod response;
mod stream;

pub use error::{ErrorBody, ErrorObject};
pub use request::{
    Content, ContentBlock, CustomTool, ImageBlock, ImageSource, Message, MessagesRequest, Metadata,
    RedactedThinkingBlock, Role, System, TextBlock, ThinkingBlock, ThinkingConfig, Tool,
    ToolChoice, ToolResultBlock, ToolUseBlock,
};
pub use response::{MessagesResponse, StopReason, Usage};
pub use stream::{BlockDelta, MessageDelta, StreamEvent};
