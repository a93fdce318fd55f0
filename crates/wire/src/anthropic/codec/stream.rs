//! Messages stream events ↔ canonical [`StreamEvent`]s.
//!
//! The canonical stream is already block-structured like Anthropic's, so both directions
//! are nearly one-to-one. The encoder holds the stop reason back until the end, because
//! Anthropic sends it in `message_delta` together with the final usage; it numbers blocks
//! 0, 1, 2… in the order they start whatever the canonical indices are.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::response::{message_id, stop_reason, wire_stop_reason};
use super::{decode_usage, encode_usage};
use crate::Usage;
use crate::anthropic::{
    self, BlockDelta, ContentBlock, MessageDelta, MessagesResponse, RedactedThinkingBlock,
    StreamEvent as WireEvent, TextBlock, ThinkingBlock, ToolUseBlock,
};
use crate::canonical::{BlockKind, Delta, StopReason, StreamEvent};

/// An `error` event from the upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StreamError {
    pub kind: String,
    pub message: String,
}

/// Turns Anthropic stream events into canonical events.
#[derive(Debug, Default)]
pub struct EventDecoder {
    usage: anthropic::Usage,
    /// Blocks the canonical model has no kind for (server tools); their events are skipped.
    skipped: Vec<usize>,
    ended: bool,
}

impl EventDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `message_stop` has been seen.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The canonical events of one Anthropic event, appended to `out`.
    pub fn push(
        &mut self,
        event: &WireEvent,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), StreamError> {
        match event {
            WireEvent::MessageStart { message } => {
                out.push(StreamEvent::Start {
                    id: message.id.clone(),
                    model: message.model.clone(),
                });
                self.merge_usage(&message.usage);
                out.push(StreamEvent::Usage(decode_usage(&self.usage)));
            }
            WireEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let (kind, first) = match content_block {
                    ContentBlock::Text(t) => (BlockKind::Text, Some(Delta::Text(t.text.clone()))),
                    ContentBlock::Thinking(t) => (
                        BlockKind::Thinking,
                        Some(Delta::Thinking(t.thinking.clone())),
                    ),
                    ContentBlock::RedactedThinking(r) => (
                        BlockKind::RedactedThinking {
                            data: r.data.clone(),
                        },
                        None,
                    ),
                    ContentBlock::ToolUse(u) => (
                        BlockKind::ToolUse {
                            id: u.id.clone(),
                            name: u.name.clone(),
                        },
                        None,
                    ),
                    ContentBlock::Image(_)
                    | ContentBlock::ToolResult(_)
                    | ContentBlock::Other(_) => {
                        self.skipped.push(*index);
                        return Ok(());
                    }
                };
                out.push(StreamEvent::BlockStart {
                    index: *index,
                    kind,
                });
                if let Some(delta) = first.filter(|d| !delta_is_empty(d)) {
                    out.push(StreamEvent::Delta {
                        index: *index,
                        delta,
                    });
                }
            }
            WireEvent::ContentBlockDelta { index, delta } => {
                if self.skipped.contains(index) {
                    return Ok(());
                }
                let delta = match delta {
                    BlockDelta::TextDelta { text } => Delta::Text(text.clone()),
                    BlockDelta::InputJsonDelta { partial_json } => {
                        Delta::ToolArguments(partial_json.clone())
                    }
                    BlockDelta::ThinkingDelta { thinking } => Delta::Thinking(thinking.clone()),
                    BlockDelta::SignatureDelta { signature } => Delta::Signature(signature.clone()),
                    BlockDelta::CitationsDelta { .. } => return Ok(()),
                };
                out.push(StreamEvent::Delta {
                    index: *index,
                    delta,
                });
            }
            WireEvent::ContentBlockStop { index } => {
                if !self.skipped.contains(index) {
                    out.push(StreamEvent::BlockStop { index: *index });
                }
            }
            WireEvent::MessageDelta { delta, usage } => {
                if let Some(reason) = delta.stop_reason {
                    out.push(StreamEvent::Finish {
                        reason: stop_reason(reason),
                        stop_sequence: delta.stop_sequence.clone(),
                    });
                }
                self.merge_usage(usage);
                out.push(StreamEvent::Usage(decode_usage(&self.usage)));
            }
            WireEvent::MessageStop => {
                self.ended = true;
                out.push(StreamEvent::End);
            }
            WireEvent::Ping => {}
            WireEvent::Error { error } => {
                return Err(StreamError {
                    kind: error.kind.clone(),
                    message: error.message.clone(),
                });
            }
        }
        Ok(())
    }

    /// Each count present replaces the earlier one.
    fn merge_usage(&mut self, usage: &anthropic::Usage) {
        let u = &mut self.usage;
        for (mine, theirs) in [
            (&mut u.input_tokens, usage.input_tokens),
            (
                &mut u.cache_read_input_tokens,
                usage.cache_read_input_tokens,
            ),
            (
                &mut u.cache_creation_input_tokens,
                usage.cache_creation_input_tokens,
            ),
            (&mut u.output_tokens, usage.output_tokens),
        ] {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
    }
}

fn delta_is_empty(delta: &Delta) -> bool {
    match delta {
        Delta::Text(s) | Delta::ToolArguments(s) | Delta::Thinking(s) | Delta::Signature(s) => {
            s.is_empty()
        }
    }
}

/// Turns canonical events into Anthropic stream events.
#[derive(Debug)]
pub struct EventEncoder {
    model: String,
    usage: Usage,
    stop: Option<(StopReason, Option<String>)>,
    /// Canonical block index → Anthropic index.
    blocks: HashMap<usize, usize>,
    started: bool,
}

impl EventEncoder {
    /// An encoder writing `model` into `message_start`.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            usage: Usage::default(),
            stop: None,
            blocks: HashMap::new(),
            started: false,
        }
    }

    /// Whether `message_start` has gone out.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// The Anthropic events for one canonical event, appended to `out`.
    pub fn push(&mut self, event: &StreamEvent, out: &mut Vec<WireEvent>) {
        match event {
            StreamEvent::Start { id, .. } => {
                self.started = true;
                let mut message = MessagesResponse::new(message_id(id), self.model.clone());
                message.usage = encode_usage(&self.usage);
                out.push(WireEvent::MessageStart {
                    message: Box::new(message),
                });
                out.push(WireEvent::Ping);
            }
            StreamEvent::BlockStart { index, kind } => {
                let n = self.blocks.len();
                self.blocks.insert(*index, n);
                let content_block = match kind {
                    BlockKind::Text => ContentBlock::Text(TextBlock::default()),
                    BlockKind::Thinking => ContentBlock::Thinking(ThinkingBlock::default()),
                    BlockKind::RedactedThinking { data } => {
                        ContentBlock::RedactedThinking(RedactedThinkingBlock {
                            data: data.clone(),
                            extra: Map::new(),
                        })
                    }
                    BlockKind::ToolUse { id, name } => ContentBlock::ToolUse(ToolUseBlock {
                        id: id.clone(),
                        name: name.clone(),
                        input: Value::Object(Map::new()),
                        cache_control: None,
                        extra: Map::new(),
                    }),
                };
                out.push(WireEvent::ContentBlockStart {
                    index: n,
                    content_block,
                });
            }
            StreamEvent::Delta { index, delta } => {
                let Some(&n) = self.blocks.get(index) else {
                    return;
                };
                let delta = match delta {
                    Delta::Text(text) => BlockDelta::TextDelta { text: text.clone() },
                    Delta::ToolArguments(a) => BlockDelta::InputJsonDelta {
                        partial_json: a.clone(),
                    },
                    Delta::Thinking(t) => BlockDelta::ThinkingDelta {
                        thinking: t.clone(),
                    },
                    Delta::Signature(s) => BlockDelta::SignatureDelta {
                        signature: s.clone(),
                    },
                };
                out.push(WireEvent::ContentBlockDelta { index: n, delta });
            }
            StreamEvent::BlockStop { index } => {
                if let Some(&n) = self.blocks.get(index) {
                    out.push(WireEvent::ContentBlockStop { index: n });
                }
            }
            StreamEvent::Finish {
                reason,
                stop_sequence,
            } => self.stop = Some((*reason, stop_sequence.clone())),
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::End => {
                let (reason, sequence) = self.stop.take().unwrap_or((StopReason::Stop, None));
                out.push(WireEvent::MessageDelta {
                    delta: MessageDelta {
                        stop_reason: Some(wire_stop_reason(reason, sequence.as_deref())),
                        stop_sequence: sequence,
                    },
                    usage: encode_usage(&self.usage),
                });
                out.push(WireEvent::MessageStop);
            }
        }
    }
}
