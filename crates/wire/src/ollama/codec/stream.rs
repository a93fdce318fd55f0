//! Canonical [`StreamEvent`]s → Ollama stream lines (`/api/chat` objects; the gateway turns
//! them into `/api/generate` objects for generate).
//!
//! Text and thinking go out as they arrive, one object a delta. A tool call goes out whole,
//! when its block stops, because Ollama sends its arguments as an object. The stop reason and
//! usage are held until the end, for the final `done: true` object.

use std::collections::HashMap;

use super::response::{done_reason, metrics, tool_call};
use crate::Usage;
use crate::canonical::{BlockKind, Delta, StopReason, StreamEvent};
use crate::ollama::{ChatResponse, Message};

/// Turns canonical events into Ollama stream objects.
#[derive(Debug)]
pub struct ChunkEncoder {
    model: String,
    created_at: String,
    /// Tool calls in progress: canonical block index → (name, arguments so far).
    tools: HashMap<usize, (String, String)>,
    stop: Option<StopReason>,
    usage: Usage,
}

impl ChunkEncoder {
    /// An encoder writing `model` and `created_at` into every object.
    pub fn new(model: impl Into<String>, created_at: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            created_at: created_at.into(),
            tools: HashMap::new(),
            stop: None,
            usage: Usage::default(),
        }
    }

    fn object(&self, message: Message) -> ChatResponse {
        ChatResponse {
            model: self.model.clone(),
            created_at: self.created_at.clone(),
            message,
            ..ChatResponse::default()
        }
    }

    fn assistant() -> Message {
        Message {
            role: "assistant".into(),
            ..Message::default()
        }
    }

    /// The Ollama objects for one canonical event, appended to `out`.
    pub fn push(&mut self, event: &StreamEvent, out: &mut Vec<ChatResponse>) {
        match event {
            StreamEvent::Start { .. } => {}
            StreamEvent::BlockStart { index, kind } => {
                if let BlockKind::ToolUse { name, .. } = kind {
                    self.tools.insert(*index, (name.clone(), String::new()));
                }
            }
            StreamEvent::Delta { index, delta } => match delta {
                Delta::Text(t) if !t.is_empty() => {
                    let mut m = Self::assistant();
                    m.content.clone_from(t);
                    out.push(self.object(m));
                }
                Delta::Thinking(t) if !t.is_empty() => {
                    let mut m = Self::assistant();
                    m.thinking = Some(t.clone());
                    out.push(self.object(m));
                }
                Delta::ToolArguments(a) => {
                    if let Some((_, args)) = self.tools.get_mut(index) {
                        args.push_str(a);
                    }
                }
                Delta::Text(_) | Delta::Thinking(_) | Delta::Signature(_) => {}
            },
            StreamEvent::BlockStop { index } => {
                if let Some((name, args)) = self.tools.remove(index) {
                    let mut m = Self::assistant();
                    m.tool_calls.push(tool_call(&name, &args));
                    out.push(self.object(m));
                }
            }
            StreamEvent::Finish { reason, .. } => self.stop = Some(*reason),
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::End => {
                // Tool calls whose block never stopped still go out.
                let mut open: Vec<_> = self.tools.drain().collect();
                open.sort_by_key(|(i, _)| *i);
                for (_, (name, args)) in open {
                    let mut m = Self::assistant();
                    m.tool_calls.push(tool_call(&name, &args));
                    out.push(self.object(m));
                }
                let mut last = self.object(Self::assistant());
                last.done = true;
                last.done_reason =
                    Some(done_reason(self.stop.unwrap_or(StopReason::Stop)).to_owned());
                last.metrics = metrics(&self.usage);
                out.push(last);
            }
        }
    }
}
