//! The mock model, independent of wire format: from a neutral view of the request and a
//! content reply, decide what the assistant says and what usage it reports.
//!
//! Each wire-format module parses its requests into a [`Prompt`], calls [`respond`], and
//! renders the resulting [`Turn`] in its own JSON or stream shape.

use std::time::Duration;

use crate::MockOptions;
use crate::script::{MockUsage, Reply};

/// Who wrote the last message of the conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Role {
    #[default]
    User,
    Tool,
    Other,
}

/// A JSON Schema type, for placeholder tool arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Number,
    Boolean,
    Array,
    Object,
}

impl Kind {
    pub(crate) fn from_schema_type(name: &str) -> Kind {
        match name {
            "number" | "integer" => Kind::Number,
            "boolean" => Kind::Boolean,
            "array" => Kind::Array,
            "object" => Kind::Object,
            _ => Kind::String,
        }
    }

    fn placeholder(self) -> serde_json::Value {
        match self {
            Kind::String => "x".into(),
            Kind::Number => 1.into(),
            Kind::Boolean => true.into(),
            Kind::Array => serde_json::Value::Array(Vec::new()),
            Kind::Object => serde_json::Value::Object(serde_json::Map::new()),
        }
    }
}

/// The tool an echo reply would call, with its required parameters in schema order.
#[derive(Clone, Debug, Default)]
pub(crate) struct ToolSpec {
    pub name: String,
    pub required: Vec<(String, Kind)>,
}

/// A wire-format-neutral view of a generation request: only what the mock model reads.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prompt {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub last_role: Role,
    /// Text of the last message.
    pub last_text: String,
    /// Text of the last user message.
    pub last_user_text: String,
    /// Whitespace-separated words across all message text.
    pub words: u64,
    /// The tool to call, when tools were offered and tool choice allows a call.
    pub tool: Option<ToolSpec>,
}

/// How a text turn is cut into stream deltas.
#[derive(Clone, Debug)]
pub(crate) enum Split {
    /// One delta per word, each with its trailing whitespace.
    Words,
    /// This many pieces of (nearly) equal length.
    Even(usize),
    /// Exactly these deltas (their concatenation is the text).
    Exact(Vec<String>),
}

#[derive(Clone, Debug)]
pub(crate) struct TextTurn {
    pub text: String,
    pub split: Split,
    pub usage: MockUsage,
    /// Pause between stream events.
    pub delay: Duration,
}

impl TextTurn {
    /// The stream deltas, in order; empty pieces are skipped.
    pub(crate) fn pieces(&self) -> Vec<&str> {
        match &self.split {
            Split::Words => split_words(&self.text),
            Split::Even(n) => split_even(&self.text, *n),
            Split::Exact(chunks) => chunks.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct ToolTurn {
    pub id: String,
    pub name: String,
    pub arguments: String,
    pub usage: MockUsage,
    pub delay: Duration,
}

impl ToolTurn {
    /// The arguments in about three stream pieces.
    pub(crate) fn argument_pieces(&self) -> Vec<&str> {
        split_even(&self.arguments, 3)
    }
}

/// What the assistant says.
#[derive(Clone, Debug)]
pub(crate) enum Turn {
    Text(TextTurn),
    ToolCall(ToolTurn),
}

impl Turn {
    /// The pause between two streamed pieces.
    pub(crate) fn delay(&self) -> Duration {
        match self {
            Turn::Text(text) => text.delay,
            Turn::ToolCall(call) => call.delay,
        }
    }

    pub(crate) fn usage(&self) -> MockUsage {
        match self {
            Turn::Text(text) => text.usage,
            Turn::ToolCall(call) => call.usage,
        }
    }
}

/// Completion tokens reported for a tool call.
const TOOL_CALL_TOKENS: u64 = 5;

/// The turn for a content reply (`Echo`, `Text`, `ToolCall`, `Stream`); `None` for the
/// others, which each wire format renders itself. `seq` numbers generated ids.
pub(crate) fn respond(
    reply: &Reply,
    prompt: &Prompt,
    opts: &MockOptions,
    seq: u64,
) -> Option<Turn> {
    let words = prompt.words.max(1);
    let turn = match reply {
        Reply::Echo => echo(prompt, opts, seq),
        Reply::Text { content, usage } => Turn::Text(TextTurn {
            usage: usage.unwrap_or_else(|| MockUsage {
                prompt_tokens: words,
                completion_tokens: count_words(content),
                ..MockUsage::default()
            }),
            text: content.clone(),
            split: default_split(opts),
            delay: opts.chunk_delay,
        }),
        Reply::ToolCall {
            name,
            arguments,
            id,
        } => Turn::ToolCall(ToolTurn {
            id: id.clone().unwrap_or_else(|| format!("call_mock_{seq}")),
            name: name.clone(),
            arguments: arguments.clone(),
            usage: MockUsage {
                prompt_tokens: words,
                completion_tokens: TOOL_CALL_TOKENS,
                ..MockUsage::default()
            },
            delay: opts.chunk_delay,
        }),
        Reply::Stream { chunks, delay_ms } => {
            let text = chunks.concat();
            Turn::Text(TextTurn {
                usage: MockUsage {
                    prompt_tokens: words,
                    completion_tokens: count_words(&text),
                    ..MockUsage::default()
                },
                text,
                split: Split::Exact(chunks.clone()),
                delay: Duration::from_millis(*delay_ms),
            })
        }
        Reply::Status { .. }
        | Reply::SlowFirstByte { .. }
        | Reply::DropMidStream { .. }
        | Reply::Malformed
        | Reply::Raw { .. }
        | Reply::Hang => return None,
    };
    Some(turn)
}

/// The echo turn: a tool call when tools are offered to a user message, the tool result
/// after a tool message, else `echo: {last user text}` (or `reply_words` × "lorem").
fn echo(prompt: &Prompt, opts: &MockOptions, seq: u64) -> Turn {
    let prompt_tokens = prompt.words.max(1);
    if let (Some(tool), Role::User) = (&prompt.tool, prompt.last_role) {
        return Turn::ToolCall(ToolTurn {
            id: format!("call_mock_{seq}"),
            name: tool.name.clone(),
            arguments: placeholder_arguments(tool),
            usage: MockUsage {
                prompt_tokens,
                completion_tokens: TOOL_CALL_TOKENS,
                ..MockUsage::default()
            },
            delay: opts.chunk_delay,
        });
    }
    let text = match (prompt.last_role, opts.reply_words) {
        (Role::Tool, _) => format!("tool result: {}", prompt.last_text),
        (_, Some(n)) => lorem(n),
        (_, None) => format!("echo: {}", prompt.last_user_text),
    };
    Turn::Text(TextTurn {
        usage: MockUsage {
            prompt_tokens,
            completion_tokens: count_words(&text),
            ..MockUsage::default()
        },
        text,
        split: default_split(opts),
        delay: opts.chunk_delay,
    })
}

/// A text turn of exactly `n` stream deltas for `DropMidStream`: the echo's words,
/// padded with "lorem " when the echo is shorter.
pub(crate) fn truncated_stream(prompt: &Prompt, opts: &MockOptions, n: usize) -> TextTurn {
    let text = match echo(prompt, opts, 0) {
        Turn::Text(turn) => turn.text,
        Turn::ToolCall(call) => call.arguments,
    };
    let mut chunks: Vec<String> = split_words(&text)
        .into_iter()
        .take(n)
        .map(str::to_owned)
        .collect();
    chunks.resize(n, "lorem ".to_owned());
    let text = chunks.concat();
    TextTurn {
        usage: MockUsage {
            prompt_tokens: prompt.words.max(1),
            completion_tokens: count_words(&text),
            ..MockUsage::default()
        },
        text,
        split: Split::Exact(chunks),
        delay: opts.chunk_delay,
    }
}

fn default_split(opts: &MockOptions) -> Split {
    match opts.stream_chunks {
        Some(n) => Split::Even(n),
        None => Split::Words,
    }
}

/// `{"p": placeholder, ...}` for every required parameter, in schema order.
fn placeholder_arguments(tool: &ToolSpec) -> String {
    let object: serde_json::Map<String, serde_json::Value> = tool
        .required
        .iter()
        .map(|(name, kind)| (name.clone(), kind.placeholder()))
        .collect();
    serde_json::Value::Object(object).to_string()
}

fn lorem(n: usize) -> String {
    let mut text = String::with_capacity(n * 6);
    for i in 0..n {
        if i > 0 {
            text.push(' ');
        }
        text.push_str("lorem");
    }
    text
}

pub(crate) fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Cuts `text` after each run of whitespace that follows a word. Leading whitespace
/// stays with the first word.
pub(crate) fn split_words(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut seen_word = false;
    let mut in_space = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_space = seen_word;
        } else {
            if in_space {
                pieces.push(&text[start..i]);
                start = i;
                in_space = false;
            }
            seen_word = true;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// Cuts `text` into `n` pieces of nearly equal character count (fewer when the text is
/// shorter than `n` characters), never inside a UTF-8 sequence.
pub(crate) fn split_even(text: &str, n: usize) -> Vec<&str> {
    let chars = text.chars().count();
    let n = n.clamp(1, chars.max(1));
    let mut pieces = Vec::with_capacity(n);
    let mut bounds = text.char_indices().map(|(i, _)| i).chain([text.len()]);
    let mut start = 0;
    let mut consumed = 0;
    for k in 1..=n {
        let target = chars * k / n;
        let end = bounds.nth(target - consumed).unwrap_or(text.len());
        consumed = target + 1;
        if end > start {
            pieces.push(&text[start..end]);
        }
        start = end;
    }
    pieces
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn prompt(last_role: Role, text: &str) -> Prompt {
        Prompt {
            model: "m".into(),
            last_role,
            last_text: text.into(),
            last_user_text: text.into(),
            words: count_words(text),
            ..Prompt::default()
        }
    }

    fn text_of(turn: Turn) -> TextTurn {
        match turn {
            Turn::Text(text) => text,
            Turn::ToolCall(call) => panic!("expected text, got {call:?}"),
        }
    }

    #[test]
    fn words_keep_their_trailing_whitespace() {
        assert_eq!(
            split_words("echo: hello  world"),
            ["echo: ", "hello  ", "world"]
        );
        assert_eq!(split_words(" a b "), [" a ", "b "]);
        assert!(split_words("").is_empty());
    }

    #[test]
    fn even_split_covers_the_text_at_char_boundaries() {
        assert_eq!(split_even("abcdefgh", 3), ["ab", "cde", "fgh"]);
        assert_eq!(split_even("ab", 5), ["a", "b"]);
        assert_eq!(split_even("héllo", 2), ["hé", "llo"]);
        assert!(split_even("", 3).is_empty());
        assert_eq!(split_even("{\"a\":1}", 3).concat(), "{\"a\":1}");
    }

    #[test]
    fn echo_repeats_the_last_user_message() {
        let opts = MockOptions::default();
        let turn =
            text_of(respond(&Reply::Echo, &prompt(Role::User, "hello world"), &opts, 1).unwrap());
        assert_eq!(turn.text, "echo: hello world");
        assert_eq!(turn.usage.prompt_tokens, 2);
        assert_eq!(turn.usage.completion_tokens, 3);
        assert_eq!(turn.pieces(), ["echo: ", "hello ", "world"]);
    }

    #[test]
    fn echo_reports_tool_results_and_lorem_for_benchmarks() {
        let opts = MockOptions {
            reply_words: Some(3),
            stream_chunks: Some(2),
            ..MockOptions::default()
        };
        let tool = text_of(respond(&Reply::Echo, &prompt(Role::Tool, "42"), &opts, 1).unwrap());
        assert_eq!(tool.text, "tool result: 42");
        let lorem = text_of(respond(&Reply::Echo, &prompt(Role::User, "hi"), &opts, 1).unwrap());
        assert_eq!(lorem.text, "lorem lorem lorem");
        assert_eq!(lorem.usage.completion_tokens, 3);
        assert_eq!(lorem.pieces().len(), 2);
    }

    #[test]
    fn echo_calls_the_offered_tool_with_placeholders() {
        let mut p = prompt(Role::User, "weather?");
        p.tool = Some(ToolSpec {
            name: "get_weather".into(),
            required: vec![
                ("city".into(), Kind::String),
                ("days".into(), Kind::Number),
                ("metric".into(), Kind::Boolean),
                ("tags".into(), Kind::Array),
                ("opts".into(), Kind::Object),
            ],
        });
        let Some(Turn::ToolCall(call)) = respond(&Reply::Echo, &p, &MockOptions::default(), 7)
        else {
            panic!("expected a tool call");
        };
        assert_eq!(call.id, "call_mock_7");
        assert_eq!(call.name, "get_weather");
        assert_eq!(
            call.arguments,
            r#"{"city":"x","days":1,"metric":true,"tags":[],"opts":{}}"#
        );
        assert_eq!(call.usage.completion_tokens, 5);
        assert_eq!(call.argument_pieces().concat(), call.arguments);
        // After the tool answered, the echo reports the result instead of calling again.
        p.last_role = Role::Tool;
        assert!(matches!(
            respond(&Reply::Echo, &p, &MockOptions::default(), 8),
            Some(Turn::Text(_))
        ));
    }

    #[test]
    fn scripted_text_keeps_explicit_usage() {
        let usage = MockUsage {
            prompt_tokens: 10,
            completion_tokens: 4,
            cached_tokens: 6,
            reasoning_tokens: 2,
        };
        let reply = Reply::Text {
            content: "a b".into(),
            usage: Some(usage),
        };
        let turn = respond(&reply, &prompt(Role::User, "x"), &MockOptions::default(), 1).unwrap();
        assert_eq!(turn.usage(), usage);
    }

    #[test]
    fn truncated_stream_pads_to_the_requested_count() {
        let turn = truncated_stream(&prompt(Role::User, "hi"), &MockOptions::default(), 4);
        assert_eq!(turn.pieces(), ["echo: ", "hi", "lorem ", "lorem "]);
    }
}
