//! Chat completion stream chunks ↔ canonical [`StreamEvent`]s.
//!
//! OpenAI chunks carry flat deltas (`content`, `reasoning_content`, `tool_calls[index]`);
//! the canonical stream has blocks. The decoder opens a block when the kind of delta
//! changes (or a tool call with a new `index` starts) and closes the open block when the
//! next one opens or the choice finishes. Only the first choice (`index` 0) is decoded.

use std::collections::HashMap;

use serde_json::Map;

use super::response::{finish_reason, stop_reason};
use crate::Usage;
use crate::canonical::{BlockKind, Delta, StreamEvent};
use crate::openai::{
    ChatCompletionChunk, ChunkChoice, Delta as ChunkDelta, FunctionCallDelta, Role, ToolCallDelta,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    Tool(u32),
}

/// Turns OpenAI chunks into canonical events, one chunk at a time.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    started: bool,
    finished: bool,
    ended: bool,
    open: Option<(Open, usize)>,
    /// Tool-call blocks still open besides `open`: parallel calls whose arguments may
    /// interleave stay open until a text or thinking block, the finish or the end.
    open_tools: Vec<usize>,
    next_index: usize,
    /// OpenAI tool-call index → canonical block index.
    tools: HashMap<u32, usize>,
}

impl ChunkDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events of one chunk, appended to `out`.
    pub fn push(&mut self, chunk: &ChatCompletionChunk, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: chunk.id.clone(),
                model: chunk.model.clone(),
            });
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let d = &choice.delta;
            let reasoning = d
                .reasoning_content
                .as_deref()
                .or_else(|| d.extra.get("reasoning").and_then(serde_json::Value::as_str));
            if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
                let index = self.ensure(Open::Thinking, BlockKind::Thinking, out);
                out.push(StreamEvent::Delta {
                    index,
                    delta: Delta::Thinking(text.to_owned()),
                });
            }
            for text in [&d.content, &d.refusal].into_iter().flatten() {
                if text.is_empty() {
                    continue;
                }
                let index = self.ensure(Open::Text, BlockKind::Text, out);
                out.push(StreamEvent::Delta {
                    index,
                    delta: Delta::Text(text.clone()),
                });
            }
            for call in d.tool_calls.iter().flatten() {
                self.tool_call(call, out);
            }
            if let Some(reason) = &choice.finish_reason
                && !self.finished
            {
                self.close(out);
                self.finished = true;
                out.push(StreamEvent::Finish {
                    reason: stop_reason(reason),
                    stop_sequence: None,
                });
            }
        }
        if let Some(usage) = &chunk.usage {
            out.push(StreamEvent::Usage(Usage::from_openai(usage)));
        }
    }

    /// The end of the stream (`[DONE]` or the body's end): closes what is open and ends.
    /// A stream that stopped without a finish reason is reported as `Stop`.
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
                reason: crate::canonical::StopReason::Stop,
                stop_sequence: None,
            });
        }
        self.ended = true;
        out.push(StreamEvent::End);
    }

    fn tool_call(&mut self, call: &ToolCallDelta, out: &mut Vec<StreamEvent>) {
        let function = call.function.as_ref();
        let index = match self.tools.get(&call.index) {
            Some(&index) => index,
            None => {
                // Another call starting keeps the open calls open: their arguments may
                // still arrive, interleaved with this one's.
                match self.open.take() {
                    Some((Open::Tool(_), open)) => self.open_tools.push(open),
                    other => {
                        self.open = other;
                        self.close(out);
                    }
                }
                let index = self.next_index;
                self.next_index += 1;
                self.tools.insert(call.index, index);
                self.open = Some((Open::Tool(call.index), index));
                out.push(StreamEvent::BlockStart {
                    index,
                    kind: BlockKind::ToolUse {
                        id: call.id.clone().unwrap_or_else(|| format!("call_{index}")),
                        name: function.and_then(|f| f.name.clone()).unwrap_or_default(),
                    },
                });
                index
            }
        };
        if let Some(args) = function.and_then(|f| f.arguments.as_ref())
            && !args.is_empty()
        {
            out.push(StreamEvent::Delta {
                index,
                delta: Delta::ToolArguments(args.clone()),
            });
        }
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
        let open = self.open.take().map(|(_, index)| index);
        let mut indices: Vec<usize> = self.open_tools.drain(..).chain(open).collect();
        indices.sort_unstable();
        out.extend(
            indices
                .into_iter()
                .map(|index| StreamEvent::BlockStop { index }),
        );
    }
}

/// One piece of an OpenAI stream.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkOut {
    Chunk(Box<ChatCompletionChunk>),
    /// `data: [DONE]`.
    Done,
}

/// Turns canonical events into OpenAI chunks.
#[derive(Debug)]
pub struct ChunkEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    usage: Option<Usage>,
    /// Canonical block index → OpenAI tool-call index.
    tools: HashMap<usize, u32>,
}

impl ChunkEncoder {
    /// An encoder writing `model` into every chunk; the usage chunk goes out only when
    /// `include_usage`.
    pub fn new(model: impl Into<String>, created: u64, include_usage: bool) -> Self {
        Self {
            id: String::new(),
            model: model.into(),
            created,
            include_usage,
            usage: None,
            tools: HashMap::new(),
        }
    }

    fn chunk(&self, delta: ChunkDelta, finish: Option<crate::openai::FinishReason>) -> ChunkOut {
        ChunkOut::Chunk(Box::new(ChatCompletionChunk {
            id: self.id.clone(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
                logprobs: None,
                extra: Map::new(),
            }],
            ..Default::default()
        }))
    }

    /// The chunks for one event, appended to `out`.
    pub fn push(&mut self, event: &StreamEvent, out: &mut Vec<ChunkOut>) {
        match event {
            StreamEvent::Start { id, .. } => {
                self.id.clone_from(id);
                out.push(self.chunk(
                    ChunkDelta {
                        role: Some(Role::Assistant),
                        content: Some(String::new()),
                        ..Default::default()
                    },
                    None,
                ));
            }
            StreamEvent::BlockStart {
                index,
                kind: BlockKind::ToolUse { id, name },
            } => {
                let n = u32::try_from(self.tools.len()).unwrap_or(u32::MAX);
                self.tools.insert(*index, n);
                out.push(self.chunk(
                    tool_delta(n, Some(id.clone()), Some(name.clone()), String::new()),
                    None,
                ));
            }
            StreamEvent::Delta { index, delta } => {
                let delta = match delta {
                    Delta::Text(t) => ChunkDelta {
                        content: Some(t.clone()),
                        ..Default::default()
                    },
                    Delta::Thinking(t) => ChunkDelta {
                        reasoning_content: Some(t.clone()),
                        ..Default::default()
                    },
                    Delta::ToolArguments(a) => {
                        let Some(&n) = self.tools.get(index) else {
                            return;
                        };
                        tool_delta(n, None, None, a.clone())
                    }
                    Delta::Signature(_) => return,
                };
                out.push(self.chunk(delta, None));
            }
            StreamEvent::Finish { reason, .. } => {
                out.push(self.chunk(ChunkDelta::default(), Some(finish_reason(*reason))));
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::End => {
                if self.include_usage
                    && let Some(usage) = &self.usage
                {
                    out.push(ChunkOut::Chunk(Box::new(ChatCompletionChunk {
                        id: self.id.clone(),
                        created: self.created,
                        model: self.model.clone(),
                        choices: Vec::new(),
                        usage: Some(super::encode_usage(usage)),
                        ..Default::default()
                    })));
                }
                out.push(ChunkOut::Done);
            }
            StreamEvent::BlockStart { .. } | StreamEvent::BlockStop { .. } => {}
        }
    }
}

fn tool_delta(index: u32, id: Option<String>, name: Option<String>, args: String) -> ChunkDelta {
    let first = id.is_some();
    ChunkDelta {
        tool_calls: Some(vec![ToolCallDelta {
            index,
            id,
            r#type: first.then(|| "function".to_owned()),
            function: Some(FunctionCallDelta {
                name,
                arguments: Some(args),
                extra: Map::new(),
            }),
            extra: Map::new(),
        }]),
        ..Default::default()
    }
}
