//! Scripted replies: what the mock answers next, queued first-in first-out over a default.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// One scripted answer. Each request to a scripted route consumes exactly one
/// (the queue's head, or the default when the queue is empty).
///
/// The JSON form (used by `POST /__mock/push`) is tagged by `type`, e.g.
/// `{"type":"status","status":429,"retry_after":1}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// A deterministic reply derived from the request (see the crate docs).
    Echo,
    /// This text; streamed word by word when the request asks for a stream.
    Text {
        content: String,
        /// Reported usage; computed from word counts when absent.
        #[serde(default)]
        usage: Option<MockUsage>,
    },
    /// A call to tool `name`; streamed arguments arrive in about three pieces.
    ToolCall {
        name: String,
        arguments: String,
        /// The tool call id; `call_mock_N` when absent.
        #[serde(default)]
        id: Option<String>,
    },
    /// Exactly these text deltas, `delay_ms` apart.
    Stream {
        chunks: Vec<String>,
        #[serde(default)]
        delay_ms: u64,
    },
    /// An error status. The default body is the wire format's error object.
    Status {
        status: u16,
        #[serde(default)]
        body: Option<serde_json::Value>,
        /// Seconds, sent as a `Retry-After` header.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Wait `delay_ms` before sending the response headers of `then`.
    SlowFirstByte { delay_ms: u64, then: Box<Reply> },
    /// Stream `after_chunks` content chunks, then abort the connection.
    /// A non-stream request gets its headers and half of its body, then the abort.
    DropMidStream { after_chunks: usize },
    /// Status 200 with a body that is not valid JSON (or an SSE stream carrying invalid JSON).
    Malformed,
    /// Exactly this response.
    Raw {
        status: u16,
        #[serde(default)]
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Accept the request and never answer.
    Hang,
}

impl Reply {
    /// [`Reply::Text`] with computed usage.
    pub fn text(content: impl Into<String>) -> Reply {
        Reply::Text {
            content: content.into(),
            usage: None,
        }
    }

    /// [`Reply::Status`] with the default error body and no `Retry-After`.
    pub fn status(status: u16) -> Reply {
        Reply::Status {
            status,
            body: None,
            retry_after: None,
        }
    }

    /// [`Reply::ToolCall`] with a generated id.
    pub fn tool_call(name: impl Into<String>, arguments: impl Into<String>) -> Reply {
        Reply::ToolCall {
            name: name.into(),
            arguments: arguments.into(),
            id: None,
        }
    }
}

/// Token usage a scripted reply reports. `prompt_tokens` includes `cached_tokens` and
/// `completion_tokens` includes `reasoning_tokens`, as in the OpenAI wire format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    #[serde(default)]
    pub cached_tokens: u64,
    #[serde(default)]
    pub reasoning_tokens: u64,
}

/// The reply queue and the default behind it.
pub(crate) struct Script {
    state: Mutex<ScriptState>,
}

struct ScriptState {
    queue: VecDeque<Arc<Reply>>,
    default: Arc<Reply>,
}

impl Script {
    pub(crate) fn new() -> Script {
        Script {
            state: Mutex::new(ScriptState {
                queue: VecDeque::new(),
                default: Arc::new(Reply::Echo),
            }),
        }
    }

    /// Queues `reply`; returns the queue length after the push.
    pub(crate) fn push(&self, reply: Reply) -> usize {
        let mut state = self.state.lock();
        state.queue.push_back(Arc::new(reply));
        state.queue.len()
    }

    pub(crate) fn set_default(&self, reply: Reply) {
        self.state.lock().default = Arc::new(reply);
    }

    /// The reply for the next request: the queue's head, else the default.
    pub(crate) fn next(&self) -> Arc<Reply> {
        let mut state = self.state.lock();
        let state = &mut *state;
        state
            .queue
            .pop_front()
            .unwrap_or_else(|| Arc::clone(&state.default))
    }

    /// Empties the queue and restores the default to [`Reply::Echo`].
    pub(crate) fn reset(&self) {
        let mut state = self.state.lock();
        state.queue.clear();
        state.default = Arc::new(Reply::Echo);
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_from_tagged_json() {
        let reply: Reply = serde_json::from_str(
            r#"{"type":"slow_first_byte","delay_ms":5,"then":{"type":"status","status":429,"retry_after":2}}"#,
        )
        .unwrap();
        let Reply::SlowFirstByte { delay_ms: 5, then } = reply else {
            panic!("wrong variant: {reply:?}");
        };
        assert!(matches!(
            *then,
            Reply::Status {
                status: 429,
                body: None,
                retry_after: Some(2)
            }
        ));
        let raw: Reply = serde_json::from_str(
            r#"{"type":"raw","status":200,"headers":[["x-a","b"]],"body":"hi"}"#,
        )
        .unwrap();
        assert!(matches!(raw, Reply::Raw { status: 200, .. }));
    }

    #[test]
    fn queue_is_fifo_over_the_default() {
        let script = Script::new();
        script.push(Reply::status(500));
        script.push(Reply::Hang);
        assert!(matches!(*script.next(), Reply::Status { status: 500, .. }));
        assert!(matches!(*script.next(), Reply::Hang));
        assert!(matches!(*script.next(), Reply::Echo));
        script.set_default(Reply::Malformed);
        assert!(matches!(*script.next(), Reply::Malformed));
        script.reset();
        assert!(matches!(*script.next(), Reply::Echo));
    }
}
