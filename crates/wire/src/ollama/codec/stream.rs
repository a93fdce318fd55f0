//! Canonical [`StreamEvent`]s ↔ Ollama stream lines (`/api/chat` objects; the gateway turns
//! them into `/api/generate` objects for generate).
//!
//! Encoding: text and thinking go out as they arrive, one object a delta. A tool call goes out whole,
//! when its block stops, because Ollama sends its arguments as an object. The stop reason and
//! usage are held until the end, for the final `done: true` object. Decoding
//! ([`ChunkDecoder`]) reads `/api/chat` stream objects from an Ollama upstream.

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

/// Turns Ollama `/api/chat` stream objects into canonical events, one object at a time.
///
/// `thinking` and `content` extend the open block of their kind (a new kind closes it); each
/// tool call is a whole tool-use block (start, its arguments as one delta, stop) with the id
/// [`tool_call_id`](super::tool_call_id) gives call `n` of the answer. The `done: true`
/// object finishes the answer (`stop` after calls is `ToolCalls`) and carries its usage:
/// `prompt_eval_count` in, `eval_count` out.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    started: bool,
    finished: bool,
    ended: bool,
    calls: usize,
    open: Option<(bool, usize)>,
    next_index: usize,
}

impl ChunkDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events of one object, appended to `out`.
    pub fn push(&mut self, chunk: &ChatResponse, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: String::new(),
                model: chunk.model.clone(),
            });
        }
        let m = &chunk.message;
        if let Some(t) = m.thinking.as_ref().filter(|t| !t.is_empty()) {
            let index = self.ensure(true, out);
            out.push(StreamEvent::Delta {
                index,
                delta: Delta::Thinking(t.clone()),
            });
        }
        if !m.content.is_empty() {
            let index = self.ensure(false, out);
            out.push(StreamEvent::Delta {
                index,
                delta: Delta::Text(m.content.clone()),
            });
        }
        for call in &m.tool_calls {
            self.close(out);
            let index = self.next_index;
            self.next_index += 1;
            out.push(StreamEvent::BlockStart {
                index,
                kind: BlockKind::ToolUse {
                    id: super::tool_call_id(0, self.calls, &call.function.name),
                    name: call.function.name.clone(),
                },
            });
            self.calls += 1;
            out.push(StreamEvent::Delta {
                index,
                delta: Delta::ToolArguments(call.function.arguments.to_string()),
            });
            out.push(StreamEvent::BlockStop { index });
        }
        if chunk.done && !self.finished {
            self.close(out);
            self.finished = true;
            let reason = super::stop_reason(chunk.done_reason.as_deref().unwrap_or("stop"));
            out.push(StreamEvent::Finish {
                reason: if reason == StopReason::Stop && self.calls > 0 {
                    StopReason::ToolCalls
                } else {
                    reason
                },
                stop_sequence: None,
            });
            out.push(StreamEvent::Usage(Usage {
                input: chunk.metrics.prompt_eval_count.unwrap_or(0),
                output: chunk.metrics.eval_count.unwrap_or(0),
                ..Usage::default()
            }));
        }
    }

    /// The end of the stream: closes what is open and ends. A stream that stopped before
    /// its `done` object is reported as `Stop` (`ToolCalls` after calls).
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: String::new(),
                model: String::new(),
            });
        }
        self.close(out);
        if !self.finished {
            self.finished = true;
            out.push(StreamEvent::Finish {
                reason: if self.calls > 0 {
                    StopReason::ToolCalls
                } else {
                    StopReason::Stop
                },
                stop_sequence: None,
            });
        }
        self.ended = true;
        out.push(StreamEvent::End);
    }

    /// The index of the open block (thinking or text), opening it if needed.
    fn ensure(&mut self, thinking: bool, out: &mut Vec<StreamEvent>) -> usize {
        if let Some((open, index)) = self.open
            && open == thinking
        {
            return index;
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((thinking, index));
        out.push(StreamEvent::BlockStart {
            index,
            kind: if thinking {
                BlockKind::Thinking
            } else {
                BlockKind::Text
            },
        });
        index
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((_, index)) = self.open.take() {
            out.push(StreamEvent::BlockStop { index });
        }
    }
}
