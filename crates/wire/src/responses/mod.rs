//! The OpenAI Responses API (`/v1/responses`): request bodies, the response object, and the
//! streamed events, typed; plus [`codec`] to and from the canonical model.
//!
//! - [`ResponsesRequest`] — `model`, `input` (a string or a list of [`Item`]s),
//!   `instructions`, function [`Tool`]s, `tool_choice`, `text.format`, `reasoning`, sampling
//!   and the store/chaining fields. Unknown fields are kept in `extra`.
//! - [`ResponseObject`] — `object: "response"` with its output items and [`ResponseUsage`].
//! - [`Event`] — one streamed event: an [`EventKind`] and its `sequence_number`.

pub mod codec;
mod request;
mod response;
mod stream;

pub use request::{
    ContentPart, FunctionCallItem, FunctionCallOutputItem, FunctionTool, ImagePart, Input,
    InputText, Item, MessageContent, MessageItem, NamespaceTool, OutputText, ReasoningConfig,
    ReasoningItem, ResponsesRequest, SummaryText, TextConfig, Tool, ToolChoice,
};
pub use response::{
    IncompleteDetails, InputTokensDetails, OutputTokensDetails, ResponseObject, ResponseUsage,
};
pub use stream::{Event, EventKind};
