//! Chat Completions (`POST /v1/chat/completions`): the request with its messages and tools,
//! the response, and the stream chunks.

mod chunk;
mod message;
mod request;
mod response;
mod tools;

pub use chunk::{ChatCompletionChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta};
pub use message::{
    AssistantMessage, AudioPart, ChatMessage, ContentMessage, ContentPart, FileInput, FilePart,
    FunctionMessage, ImagePart, ImageUrl, InputAudio, MessageContent, RefusalPart, TextPart,
    ToolMessage,
};
pub use request::ChatCompletionRequest;
pub use response::{
    ChatCompletionResponse, Choice, ChoiceLogprobs, ResponseMessage, TokenLogprob, TopLogprob,
};
pub use tools::{
    FunctionCall, FunctionDefinition, FunctionName, FunctionTool, FunctionToolCall, JsonSchema,
    NamedToolChoice, ResponseFormat, ResponseFormatJsonObject, ResponseFormatJsonSchema,
    ResponseFormatText, Tool, ToolCall, ToolChoice,
};
