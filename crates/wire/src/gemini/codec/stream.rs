//! Canonical [`StreamEvent`]s → Gemini stream chunks (each a `GenerateContentResponse`).
//!
//! Text and thinking go out as they arrive, one part a chunk. A tool call goes out whole,
//! as one `functionCall` part with its arguments parsed, when its block stops — Gemini does
//! not stream arguments. The last chunk carries `finishReason` and `usageMetadata`.

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
