//! The cases of the matrix: for each, what the client asks, what the upstream answers, and
//! what must hold at both ends whatever the dialect and wire format.

use serde_json::{Value, json};
use wire::Dialect;

use super::{Ask, Call, Observed, Received, Script, Stop, Tokens};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// Plain text, stop reason `stop`.
    Text,
    /// A system prompt reaches the upstream as its system prompt.
    SystemPrompt,
    /// A base64 image reaches the upstream intact.
    Image,
    /// Two tools offered; two calls come back, their arguments streamed in pieces
    /// (interleaved where the wire format allows), stop reason `tool_calls`.
    ParallelToolCalls,
    /// A call and its result in the history reach the upstream with matching ids.
    ToolResults,
    /// A JSON schema reaches the upstream; the JSON answer comes back as text.
    StructuredOutput,
    /// Reasoning asked for reaches the upstream; thinking comes back apart from the text.
    Reasoning,
    /// A token limit reaches the upstream; stop reason `length` comes back.
    StopLength,
    /// Usage with cache reads comes back in the dialect's convention.
    UsageCached,
    /// An upstream 400 comes back as a 400 in the dialect's error shape, message kept.
    UpstreamError,
    /// An upstream 503 comes back as a 503 in the dialect's overloaded/unavailable shape.
    UpstreamOverloaded,
}

impl Case {
    pub const ALL: [Case; 11] = [
        Case::Text,
        Case::SystemPrompt,
        Case::Image,
        Case::ParallelToolCalls,
        Case::ToolResults,
        Case::StructuredOutput,
        Case::Reasoning,
        Case::StopLength,
        Case::UsageCached,
        Case::UpstreamError,
        Case::UpstreamOverloaded,
    ];
}

/// A 1×1 PNG.
pub const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

pub const SYSTEM: &str = "You are terse and answer in English.";

pub const TOOL_RESULT: &str = "22C and sunny";

/// The two tools offered: name, description, JSON Schema of the arguments.
pub fn tools() -> [(&'static str, &'static str, Value); 2] {
    [
        (
            "get_weather",
            "Weather for a city",
            json!({ "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }),
        ),
        (
            "get_time",
            "Time in a timezone",
            json!({ "type": "object", "properties": { "tz": { "type": "string" } }, "required": ["tz"] }),
        ),
    ]
}

pub fn schema() -> Value {
    json!({ "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] })
}

fn answer(text: &str, stop: Stop) -> Script {
    Script::Answer {
        reasoning: None,
        text: text.into(),
        calls: Vec::new(),
        stop,
        usage: Tokens {
            prompt: 12,
            cached: 0,
            output: 5,
        },
    }
}

fn ask(user: &str) -> Ask {
    Ask {
        user: user.into(),
        ..Ask::default()
    }
}

/// Dialects that carry tool-call ids (Gemini and Ollama do not: the gateway makes them).
fn has_call_ids(dialect: Dialect) -> bool {
    matches!(
        dialect,
        Dialect::OpenAi | Dialect::Anthropic | Dialect::Responses
    )
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn ensure_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    ensure!(got == want, "{what}: got {got:?}, want {want:?}");
    Ok(())
}

/// A successful answer with exactly this text and stop reason, and no tool call.
fn text_answer(o: &Observed, text: &str, stop: Stop) -> Result<(), String> {
    ensure_eq("status", o.status, 200)?;
    ensure_eq("text", o.text.as_str(), text)?;
    ensure_eq("tool calls", o.calls.len(), 0)?;
    ensure_eq("stop reason", o.stop, Some(stop))
}

impl Case {
    pub fn ask(self) -> Ask {
        match self {
            Case::Text | Case::UsageCached | Case::UpstreamError | Case::UpstreamOverloaded => {
                ask("Say hi")
            }
            Case::SystemPrompt => Ask {
                system: Some(SYSTEM.into()),
                ..ask("Say hi")
            },
            Case::Image => Ask {
                image: Some(("image/png".into(), PNG.into())),
                ..ask("What is in this image?")
            },
            Case::ParallelToolCalls => Ask {
                tools: true,
                ..ask("Weather and time in Paris?")
            },
            Case::ToolResults => Ask {
                tools: true,
                tool_result: true,
                ..ask("Weather in Paris?")
            },
            Case::StructuredOutput => Ask {
                schema: Some(schema()),
                ..ask("Which city is the capital of France?")
            },
            Case::Reasoning => Ask {
                reasoning: true,
                max_tokens: Some(4000),
                ..ask("What is six times seven?")
            },
            Case::StopLength => Ask {
                max_tokens: Some(5),
                ..ask("Tell me a long story")
            },
        }
    }

    pub fn script(self) -> Script {
        match self {
            Case::Text | Case::SystemPrompt => answer("Hello there, friend.", Stop::Stop),
            Case::Image => answer("A single pixel.", Stop::Stop),
            Case::ParallelToolCalls => Script::Answer {
                reasoning: None,
                text: String::new(),
                calls: vec![
                    Call {
                        id: "call_a1".into(),
                        name: "get_weather".into(),
                        arguments: json!({ "city": "Paris" }),
                    },
                    Call {
                        id: "call_b2".into(),
                        name: "get_time".into(),
                        arguments: json!({ "tz": "Europe/Paris" }),
                    },
                ],
                stop: Stop::ToolCalls,
                usage: Tokens {
                    prompt: 40,
                    cached: 0,
                    output: 20,
                },
            },
            Case::ToolResults => answer("It is 22C in Paris.", Stop::Stop),
            Case::StructuredOutput => answer(r#"{"city":"Paris"}"#, Stop::Stop),
            Case::Reasoning => Script::Answer {
                reasoning: Some(("Six sevens are forty-two.".into(), "sig-42".into())),
                text: "The answer is 42.".into(),
                calls: Vec::new(),
                stop: Stop::Stop,
                usage: Tokens {
                    prompt: 12,
                    cached: 0,
                    output: 30,
                },
            },
            Case::StopLength => answer("Once upon a time", Stop::Length),
            Case::UsageCached => Script::Answer {
                reasoning: None,
                text: "Cached hello.".into(),
                calls: Vec::new(),
                stop: Stop::Stop,
                usage: Tokens {
                    prompt: 2006,
                    cached: 1920,
                    output: 300,
                },
            },
            Case::UpstreamError => Script::Error {
                status: 400,
                message: "upstream says: temperature out of range".into(),
            },
            Case::UpstreamOverloaded => Script::Error {
                status: 503,
                message: "upstream says: overloaded".into(),
            },
        }
    }

    /// What must hold for this case: `o` is what the client saw, `r` what the upstream got.
    pub fn check(self, dialect: Dialect, o: &Observed, r: &Received) -> Result<(), String> {
        match self {
            Case::Text => {
                ensure!(r.user_text.contains("Say hi"), "upstream user text");
                ensure_eq("system prompt upstream", r.system.as_str(), "")?;
                text_answer(o, "Hello there, friend.", Stop::Stop)
            }
            Case::SystemPrompt => {
                ensure_eq("system prompt upstream", r.system.as_str(), SYSTEM)?;
                ensure!(
                    !r.user_text.contains(SYSTEM),
                    "the system prompt was sent as a user message"
                );
                text_answer(o, "Hello there, friend.", Stop::Stop)
            }
            Case::Image => {
                ensure_eq("images upstream", r.images.clone(), vec![PNG.to_owned()])?;
                ensure!(r.user_text.contains("What is in this image?"), "user text");
                text_answer(o, "A single pixel.", Stop::Stop)
            }
            Case::ParallelToolCalls => {
                ensure_eq(
                    "tools upstream",
                    r.tools.clone(),
                    vec!["get_weather".to_owned(), "get_time".to_owned()],
                )?;
                ensure_eq("status", o.status, 200)?;
                ensure_eq(
                    "tool calls",
                    o.calls.clone(),
                    vec![
                        ("get_weather".to_owned(), json!({ "city": "Paris" })),
                        ("get_time".to_owned(), json!({ "tz": "Europe/Paris" })),
                    ],
                )?;
                ensure_eq("text", o.text.as_str(), "")?;
                ensure_eq("stop reason", o.stop, Some(Stop::ToolCalls))
            }
            Case::ToolResults => {
                ensure_eq("tool results upstream", r.results.len(), 1)?;
                let (id, content) = &r.results[0];
                ensure!(content.contains(TOOL_RESULT), "tool result text: {content}");
                ensure_eq("call ids upstream", r.call_ids.clone(), vec![id.clone()])?;
                if has_call_ids(dialect) {
                    ensure_eq("tool call id", id.as_str(), "call_w1")?;
                }
                text_answer(o, "It is 22C in Paris.", Stop::Stop)
            }
            Case::StructuredOutput => {
                ensure_eq("schema upstream", r.schema.clone(), Some(schema()))?;
                ensure_eq("status", o.status, 200)?;
                let parsed: Value = serde_json::from_str(&o.text)
                    .map_err(|e| format!("text is not JSON ({e}): {}", o.text))?;
                ensure_eq("structured answer", parsed, json!({ "city": "Paris" }))?;
                ensure_eq("stop reason", o.stop, Some(Stop::Stop))
            }
            Case::Reasoning => {
                ensure!(r.reasoning, "reasoning was not asked of the upstream");
                ensure_eq(
                    "reasoning",
                    o.reasoning.as_str(),
                    "Six sevens are forty-two.",
                )?;
                text_answer(o, "The answer is 42.", Stop::Stop)
            }
            Case::StopLength => {
                ensure_eq("max tokens upstream", r.max_tokens, Some(5))?;
                text_answer(o, "Once upon a time", Stop::Length)
            }
            Case::UsageCached => {
                text_answer(o, "Cached hello.", Stop::Stop)?;
                let cached = (dialect != Dialect::Ollama).then_some(1920);
                ensure_eq("usage", o.usage, Some((2006, cached, 300)))
            }
            Case::UpstreamError => {
                ensure_eq("status", o.status, 400)?;
                let e = o.error.as_ref().ok_or("no error")?;
                ensure!(
                    e.message.contains("temperature out of range"),
                    "the upstream's message is lost: {}",
                    e.message
                );
                let kind = match dialect {
                    Dialect::OpenAi | Dialect::Responses | Dialect::Anthropic => {
                        "invalid_request_error"
                    }
                    Dialect::Gemini => "INVALID_ARGUMENT",
                    Dialect::Ollama => "",
                };
                ensure_eq("error kind", e.kind.as_str(), kind)
            }
            Case::UpstreamOverloaded => {
                ensure_eq("status", o.status, 503)?;
                let e = o.error.as_ref().ok_or("no error")?;
                ensure!(!e.message.is_empty(), "empty error message");
                match dialect {
                    Dialect::Anthropic => {
                        ensure_eq("error kind", e.kind.as_str(), "overloaded_error")
                    }
                    Dialect::Gemini => ensure_eq("error kind", e.kind.as_str(), "UNAVAILABLE"),
                    Dialect::OpenAi | Dialect::Responses | Dialect::Ollama => Ok(()),
                }
            }
        }
    }
}
