//! Typed Google Gemini API bodies (`models/{model}:generateContent` and
//! `:streamGenerateContent`): the request with its contents, parts, tools and generation
//! config, the response (also each chunk of a stream) and the error body; [`codec`]
//! translates them to and from the canonical model.
//!
//! Field names are camelCase on the wire; the snake_case spelling the REST API also accepts
//! is read as well. Structs keep fields they do not know in `extra`.

pub mod codec;
mod error;
mod request;
mod response;

pub use error::{ErrorBody, ErrorObject};
pub use request::{
    Blob, Content, FileData, FunctionCall, FunctionCallingConfig, FunctionDeclaration,
    FunctionResponse, GenerateContentRequest, GenerationConfig, Part, ThinkingConfig, Tool,
    ToolConfig,
};
pub use response::{Candidate, GenerateContentResponse, UsageMetadata};
