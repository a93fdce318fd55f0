//! OpenAI response shapes: `chat.completion`, `chat.completion.chunk`, `text_completion`,
//! embedding lists and error objects, serialized from borrowed structs (no `Value` trees
//! on the hot path).

use bytes::Bytes;
use serde::Serialize;

use super::request::EmbedRequest;
use crate::embed;
use crate::script::MockUsage;
use crate::server::Meta;
use crate::turn::{TextTurn, ToolTurn, Turn};

const FINGERPRINT: &str = "fp_mock";
const DONE: &[u8] = b"data: [DONE]\n\n";

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u64,
}

#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u64,
}

impl From<MockUsage> for Usage {
    fn from(u: MockUsage) -> Usage {
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens + u.completion_tokens,
            prompt_tokens_details: PromptDetails {
                cached_tokens: u.cached_tokens,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: u.reasoning_tokens,
            },
        }
    }
}

// ---- chat.completion -------------------------------------------------------------

#[derive(Serialize)]
struct ChatCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [ChatChoice<'a>; 1],
    usage: Usage,
    service_tier: &'static str,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct ChatChoice<'a> {
    index: u32,
    message: AssistantMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    refusal: Option<()>,
    annotations: [(); 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Function<'a> {
    name: &'a str,
    arguments: &'a str,
}

/// A `chat.completion` object.
pub(crate) fn chat(turn: &Turn, meta: &Meta) -> Bytes {
    let id = format!("chatcmpl-mock-{}", meta.seq);
    let (message, finish_reason) = match turn {
        Turn::Text(text) => (assistant(Some(&text.text), None), "stop"),
        Turn::ToolCall(call) => {
            let tool_call = ToolCall {
                id: &call.id,
                kind: "function",
                function: Function {
                    name: &call.name,
                    arguments: &call.arguments,
                },
            };
            (assistant(None, Some([tool_call])), "tool_calls")
        }
    };
    json(&ChatCompletion {
        id: &id,
        object: "chat.completion",
        created: meta.created,
        model: &meta.model,
        choices: [ChatChoice {
            index: 0,
            message,
            logprobs: None,
            finish_reason,
        }],
        usage: turn.usage().into(),
        service_tier: "default",
        system_fingerprint: FINGERPRINT,
    })
}

fn assistant<'a>(
    content: Option<&'a str>,
    tool_calls: Option<[ToolCall<'a>; 1]>,
) -> AssistantMessage<'a> {
    AssistantMessage {
        role: "assistant",
        content,
        refusal: None,
        annotations: [],
        tool_calls,
    }
}

// ---- chat.completion.chunk -------------------------------------------------------

#[derive(Serialize)]
struct ChatChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: &'a [ChunkChoice<'a>],
    /// Absent without `include_usage`; `null` on every chunk but the usage chunk with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Default, Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    /// `Some(None)` is an explicit `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

/// Writes the chunks of one chat stream, all sharing id, model and timestamp.
struct ChatStream<'a> {
    id: String,
    meta: &'a Meta,
    include_usage: bool,
    events: Vec<Bytes>,
}

impl<'a> ChatStream<'a> {
    fn new(meta: &'a Meta, include_usage: bool, capacity: usize) -> ChatStream<'a> {
        ChatStream {
            id: format!("chatcmpl-mock-{}", meta.seq),
            meta,
            include_usage,
            events: Vec::with_capacity(capacity + 4),
        }
    }

    fn choice(&mut self, delta: Delta<'_>, finish_reason: Option<&'static str>) {
        let choice = ChunkChoice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason,
        };
        let usage = self.include_usage.then_some(None);
        self.push(&[choice], usage);
    }

    fn push(&mut self, choices: &[ChunkChoice<'_>], usage: Option<Option<Usage>>) {
        let event = sse(&ChatChunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.meta.created,
            model: &self.meta.model,
            system_fingerprint: FINGERPRINT,
            choices,
            usage,
        });
        self.events.push(event);
    }

    /// The finish chunk, the usage chunk when asked for, and `[DONE]`.
    fn finish(mut self, finish_reason: &'static str, usage: MockUsage) -> Vec<Bytes> {
        self.choice(Delta::default(), Some(finish_reason));
        if self.include_usage {
            self.push(&[], Some(Some(usage.into())));
        }
        self.events.push(Bytes::from_static(DONE));
        self.events
    }
}

/// Number of chat stream events before the first content delta (the role chunk).
pub(crate) const CHAT_PREAMBLE_EVENTS: usize = 1;

/// The SSE events of a streamed chat completion, `[DONE]` included.
pub(crate) fn chat_stream(turn: &Turn, meta: &Meta, include_usage: bool) -> Vec<Bytes> {
    match turn {
        Turn::Text(text) => chat_text_stream(text, meta, include_usage),
        Turn::ToolCall(call) => chat_tool_stream(call, meta, include_usage),
    }
}

fn chat_text_stream(turn: &TextTurn, meta: &Meta, include_usage: bool) -> Vec<Bytes> {
    let pieces = turn.pieces();
    let mut stream = ChatStream::new(meta, include_usage, pieces.len());
    let role = Delta {
        role: Some("assistant"),
        content: Some(Some("")),
        ..Delta::default()
    };
    stream.choice(role, None);
    for piece in pieces {
        let delta = Delta {
            content: Some(Some(piece)),
            ..Delta::default()
        };
        stream.choice(delta, None);
    }
    stream.finish("stop", turn.usage)
}

fn chat_tool_stream(call: &ToolTurn, meta: &Meta, include_usage: bool) -> Vec<Bytes> {
    let pieces = call.argument_pieces();
    let mut stream = ChatStream::new(meta, include_usage, pieces.len());
    // As OpenAI does: the role rides with the call's id and name, with empty arguments.
    let head = Delta {
        role: Some("assistant"),
        content: Some(None),
        tool_calls: Some([ToolCallDelta {
            index: 0,
            id: Some(&call.id),
            kind: Some("function"),
            function: FunctionDelta {
                name: Some(&call.name),
                arguments: "",
            },
        }]),
    };
    stream.choice(head, None);
    for piece in pieces {
        let delta = Delta {
            tool_calls: Some([ToolCallDelta {
                index: 0,
                id: None,
                kind: None,
                function: FunctionDelta {
                    name: None,
                    arguments: piece,
                },
            }]),
            ..Delta::default()
        };
        stream.choice(delta, None);
    }
    stream.finish("tool_calls", call.usage)
}

// ---- text_completion -------------------------------------------------------------

#[derive(Serialize)]
struct TextCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: &'a [TextChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

#[derive(Serialize)]
struct TextChoice<'a> {
    text: &'a str,
    index: u32,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

/// The text a legacy completion carries: a tool call has no place there, so its
/// arguments stand in as text.
fn completion_text(turn: &Turn) -> &str {
    match turn {
        Turn::Text(text) => &text.text,
        Turn::ToolCall(call) => &call.arguments,
    }
}

/// A `text_completion` object.
pub(crate) fn completion(turn: &Turn, meta: &Meta) -> Bytes {
    let id = format!("cmpl-mock-{}", meta.seq);
    json(&TextCompletion {
        id: &id,
        object: "text_completion",
        created: meta.created,
        model: &meta.model,
        system_fingerprint: FINGERPRINT,
        choices: &[TextChoice {
            text: completion_text(turn),
            index: 0,
            logprobs: None,
            finish_reason: Some("stop"),
        }],
        usage: Some(Some(turn.usage().into())),
    })
}

/// The SSE events of a streamed legacy completion, `[DONE]` included.
pub(crate) fn completion_stream(turn: &Turn, meta: &Meta, include_usage: bool) -> Vec<Bytes> {
    let id = format!("cmpl-mock-{}", meta.seq);
    let pieces = match turn {
        Turn::Text(text) => text.pieces(),
        Turn::ToolCall(call) => call.argument_pieces(),
    };
    let chunk = |choices: &[TextChoice<'_>], usage: Option<Option<Usage>>| {
        sse(&TextCompletion {
            id: &id,
            object: "text_completion",
            created: meta.created,
            model: &meta.model,
            system_fingerprint: FINGERPRINT,
            choices,
            usage,
        })
    };
    let text_choice = |text, finish_reason| TextChoice {
        text,
        index: 0,
        logprobs: None,
        finish_reason,
    };
    let null_usage = || include_usage.then_some(None);
    let mut events = Vec::with_capacity(pieces.len() + 3);
    for piece in pieces {
        events.push(chunk(&[text_choice(piece, None)], null_usage()));
    }
    events.push(chunk(&[text_choice("", Some("stop"))], null_usage()));
    if include_usage {
        events.push(chunk(&[], Some(Some(turn.usage().into()))));
    }
    events.push(Bytes::from_static(DONE));
    events
}

// ---- embeddings ------------------------------------------------------------------

#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<EmbeddingItem>,
    model: &'a str,
    usage: EmbeddingUsage,
}

#[derive(Serialize)]
struct EmbeddingItem {
    object: &'static str,
    index: usize,
    embedding: EmbeddingVector,
}

#[derive(Serialize)]
#[serde(untagged)]
enum EmbeddingVector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// An embedding list: one deterministic vector per input.
pub(crate) fn embeddings(request: &EmbedRequest, meta: &Meta, always_float: bool) -> Bytes {
    let base64 = request.base64 && !always_float;
    let data = request
        .inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let vector = input.vector(request.dimensions);
            let embedding = if base64 {
                EmbeddingVector::Base64(embed::to_base64(&vector))
            } else {
                EmbeddingVector::Float(vector)
            };
            EmbeddingItem {
                object: "embedding",
                index,
                embedding,
            }
        })
        .collect();
    let tokens = request.inputs.iter().map(|input| input.tokens()).sum();
    json(&EmbeddingList {
        object: "list",
        data,
        model: &meta.model,
        usage: EmbeddingUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    })
}

// ---- errors and odd bodies -------------------------------------------------------

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<()>,
    code: Option<&'a str>,
}

/// An OpenAI error object: `{"error":{"message","type","param","code"}}`.
pub(crate) fn error(message: &str, kind: &str, code: Option<&str>) -> Bytes {
    json(&ErrorBody {
        error: ErrorObject {
            message,
            kind,
            param: None,
            code,
        },
    })
}

/// The error object OpenAI sends with `status`, roughly.
pub(crate) fn status_error(status: u16) -> Bytes {
    let (kind, code) = match status {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => ("permission_error", None),
        404 => ("invalid_request_error", Some("model_not_found")),
        429 => ("rate_limit_error", Some("rate_limit_exceeded")),
        400..=499 => ("invalid_request_error", None),
        _ => ("server_error", None),
    };
    error(&format!("mock error: status {status}"), kind, code)
}

/// A JSON body cut off mid-way.
pub(crate) const MALFORMED_JSON: &str =
    r#"{"id": "chatcmpl-mock", "object": "chat.completion", "choices": [{"#;

/// An SSE stream whose first chunk is not valid JSON.
pub(crate) fn malformed_stream() -> Vec<Bytes> {
    vec![
        Bytes::from_static(
            b"data: {\"id\": \"chatcmpl-mock\", \"choices\": [{\"delta\": {\"content\": \"he\n\n",
        ),
        Bytes::from_static(DONE),
    ]
}

fn json(value: &impl Serialize) -> Bytes {
    let mut buf = Vec::with_capacity(512);
    write(&mut buf, value);
    Bytes::from(buf)
}

/// `data: {json}\n\n`
fn sse(value: &impl Serialize) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    write(&mut buf, value);
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

fn write(buf: &mut Vec<u8>, value: &impl Serialize) {
    // Infallible: these are derive(Serialize) structs of strings, numbers and sequences
    // (no maps with non-string keys), written into memory.
    serde_json::to_writer(buf, value).expect("serializing a response cannot fail");
}
