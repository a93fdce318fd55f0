//! Gemini stream chunks (each a `GenerateContentResponse`) ↔ canonical [`StreamEvent`]s.
//!
//! Encoding: text and thinking go out as they arrive, one part a chunk. A tool call goes out whole,
//! as one `functionCall` part with its arguments parsed, when its block stops — Gemini does
//! not stream arguments. The last chunk carries `finishReason` and `usageMetadata`.
//! Decoding ([`ChunkDecoder`]) reads the same shape back, from any Gemini upstream.

use std::collections::HashMap;

use serde_json::Map;

use super::request::arguments;
use super::{encode_usage, finish_reason};
use crate::Usage;
use crate::canonical::{BlockKind, Delta, StopReason, StreamEvent};
use crate::gemini::{Candidate, Content, FunctionCall, GenerateContentResponse, Part};

/// Turns canonical events into Gemini chunks.
#[derive(Debug)]
pub struct ChunkEncoder {
    id: String,
    model: String,
    usage: Usage,
    stop: Option<StopReason>,
    /// Tool calls being gathered: canonical index → (id, name, arguments so far).
    calls: HashMap<usize, (String, String, String)>,
}

impl ChunkEncoder {
    /// An encoder writing `model` as every chunk's `modelVersion`.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            id: String::new(),
            model: model.into(),
            usage: Usage::default(),
            stop: None,
            calls: HashMap::new(),
        }
    }

    fn chunk(&self, parts: Vec<Part>, finish: Option<StopReason>) -> GenerateContentResponse {
        GenerateContentResponse {
            candidates: vec![Candidate {
                content: Some(Content {
                    role: Some("model".into()),
                    parts,
                }),
                finish_reason: finish.map(|r| finish_reason(r).to_owned()),
                index: Some(0),
                extra: Map::new(),
            }],
            usage_metadata: finish.map(|_| encode_usage(&self.usage)),
            model_version: Some(self.model.clone()),
            response_id: Some(self.id.clone()),
            extra: Map::new(),
        }
    }

    /// The chunks for one event, appended to `out`.
    pub fn push(&mut self, event: &StreamEvent, out: &mut Vec<GenerateContentResponse>) {
        match event {
            StreamEvent::Start { id, .. } => self.id.clone_from(id),
            StreamEvent::BlockStart {
                index,
                kind: BlockKind::ToolUse { id, name },
            } => {
                self.calls
                    .insert(*index, (id.clone(), name.clone(), String::new()));
            }
            StreamEvent::BlockStart { .. } => {}
            StreamEvent::Delta { index, delta } => {
                let part = match delta {
                    Delta::Text(t) if !t.is_empty() => Part::text(t.clone()),
                    Delta::Thinking(t) if !t.is_empty() => Part {
                        text: Some(t.clone()),
                        thought: Some(true),
                        ..Part::default()
                    },
                    Delta::Signature(s) => Part {
                        text: Some(String::new()),
                        thought: Some(true),
                        thought_signature: Some(s.clone()),
                        ..Part::default()
                    },
                    Delta::ToolArguments(a) => {
                        if let Some(call) = self.calls.get_mut(index) {
                            call.2.push_str(a);
                        }
                        return;
                    }
                    Delta::Text(_) | Delta::Thinking(_) => return,
                };
                out.push(self.chunk(vec![part], None));
            }
            StreamEvent::BlockStop { index } => {
                if let Some((id, name, args)) = self.calls.remove(index) {
                    let part = Part {
                        function_call: Some(FunctionCall {
                            id: Some(id),
                            name,
                            args: Some(arguments(&args)),
                        }),
                        ..Part::default()
                    };
                    out.push(self.chunk(vec![part], None));
                }
            }
            StreamEvent::Finish { reason, .. } => self.stop = Some(*reason),
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::End => {
                // Calls whose block never stopped still go out.
                let mut open: Vec<_> = self.calls.drain().collect();
                open.sort_by_key(|(i, _)| *i);
                for (_, (id, name, args)) in open {
                    let part = Part {
                        function_call: Some(FunctionCall {
                            id: Some(id),
                            name,
                            args: Some(arguments(&args)),
                        }),
                        ..Part::default()
                    };
                    out.push(self.chunk(vec![part], None));
                }
                let reason = self.stop.take().unwrap_or(StopReason::Stop);
                out.push(self.chunk(Vec::new(), Some(reason)));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
}

/// Turns Gemini stream chunks into canonical events, one chunk at a time.
///
/// Text and thought parts extend the open block of their kind (a new kind closes it); a
/// `functionCall` part is a whole tool-use block (start, its arguments as one delta, stop),
/// with `call_0_{n}` as its id when it has none — `n` counting parts across the chunks, as
/// [`decode_response`](super::decode_response) counts them in one answer. `usageMetadata`
/// on any chunk replaces the usage so far; `finishReason` finishes the answer (`STOP` after
/// calls is `ToolCalls`). Only the first candidate is decoded.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    started: bool,
    finished: bool,
    ended: bool,
    has_calls: bool,
    open: Option<(Open, usize)>,
    next_index: usize,
    /// Parts seen so far, for the ids of calls without one.
    parts: usize,
}

impl ChunkDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the stream has ended ([`finish`](Self::finish) was called).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The events of one chunk, appended to `out`.
    pub fn push(&mut self, chunk: &GenerateContentResponse, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: chunk.response_id.clone().unwrap_or_default(),
                model: chunk.model_version.clone().unwrap_or_default(),
            });
        }
        let candidate = chunk.candidates.iter().find(|c| c.index.unwrap_or(0) == 0);
        let parts = candidate
            .and_then(|c| c.content.as_ref())
            .map(|c| c.parts.as_slice())
            .unwrap_or_default();
        for part in parts {
            let n = self.parts;
            self.parts += 1;
            if let Some(call) = &part.function_call {
                self.call(call, n, out);
                continue;
            }
            let thought = part.thought == Some(true);
            if let Some(text) = part.text.as_ref().filter(|t| !t.is_empty()) {
                let (want, kind) = if thought {
                    (Open::Thinking, BlockKind::Thinking)
                } else {
                    (Open::Text, BlockKind::Text)
                };
                let index = self.ensure(want, kind, out);
                out.push(StreamEvent::Delta {
                    index,
                    delta: if thought {
                        Delta::Thinking(text.clone())
                    } else {
                        Delta::Text(text.clone())
                    },
                });
            }
            if thought && let Some(signature) = &part.thought_signature {
                let index = self.ensure(Open::Thinking, BlockKind::Thinking, out);
                out.push(StreamEvent::Delta {
                    index,
                    delta: Delta::Signature(signature.clone()),
                });
            }
        }
        if let Some(reason) = candidate.and_then(|c| c.finish_reason.as_deref())
            && !self.finished
        {
            self.close(out);
            self.finished = true;
            out.push(StreamEvent::Finish {
                reason: super::stop_reason(reason, self.has_calls),
                stop_sequence: None,
            });
        }
        if let Some(usage) = &chunk.usage_metadata {
            out.push(StreamEvent::Usage(super::decode_usage(usage)));
        }
    }

    /// The end of the stream: closes what is open and ends. A stream that stopped without a
    /// finish reason is reported as `Stop` (`ToolCalls` after calls).
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
                reason: if self.has_calls {
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

    fn call(&mut self, call: &FunctionCall, n: usize, out: &mut Vec<StreamEvent>) {
        self.close(out);
        self.has_calls = true;
        let index = self.next_index;
        self.next_index += 1;
        out.push(StreamEvent::BlockStart {
            index,
            kind: BlockKind::ToolUse {
                id: call.id.clone().unwrap_or_else(|| format!("call_0_{n}")),
                name: call.name.clone(),
            },
        });
        let args = call
            .args
            .clone()
            .unwrap_or_else(|| serde_json::Value::Object(Map::new()));
        out.push(StreamEvent::Delta {
            index,
            delta: Delta::ToolArguments(args.to_string()),
        });
        out.push(StreamEvent::BlockStop { index });
    }

    /// The index of the open block of `want`, opening it (and closing another) if needed.
    fn ensure(&mut self, want: Open, kind: BlockKind, out: &mut Vec<StreamEvent>) -> usize {
        if let Some((open, index)) = self.open
            && open == want
        {
            return index;
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((want, index));
        out.push(StreamEvent::BlockStart { index, kind });
        index
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((_, index)) = self.open.take() {
            out.push(StreamEvent::BlockStop { index });
        }
    }
}
