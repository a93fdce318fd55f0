//! Responses stream events → canonical [`StreamEvent`]s, for an OpenAI Responses upstream.
//!
//! Each output item is one block: a message's text parts (`output_text.delta`) one text
//! block, a reasoning item's summary (`reasoning_summary_text.delta`) one thinking block whose
//! `encrypted_content` becomes its signature when the item is done, a function call one
//! tool-use block (`call_id` is its id) with its argument deltas. `response.completed` /
//! `response.incomplete` finish the answer with its usage; `response.failed` and `error`
//! are errors.

use std::collections::HashMap;

use super::decode_usage;
use crate::canonical::{BlockKind, Delta, StopReason, StreamEvent};
use crate::responses::{EventKind, Item, ResponseObject};

/// A failure the upstream reported in its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFailure {
    pub code: Option<String>,
    pub message: String,
}

/// What an output item became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Open {
    index: usize,
    /// Whether any argument delta arrived (a function call's arguments may come only whole).
    streamed: bool,
}

/// Turns Responses stream events into canonical events, one event at a time.
#[derive(Debug, Default)]
pub struct EventDecoder {
    started: bool,
    ended: bool,
    has_calls: bool,
    next_index: usize,
    /// Output index → its open block.
    open: HashMap<usize, Open>,
}

impl EventDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the stream has ended.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The events of one upstream event, appended to `out`.
    pub fn push(
        &mut self,
        event: &EventKind,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), StreamFailure> {
        if self.ended {
            return Ok(());
        }
        let carries_response = matches!(
            event,
            EventKind::Created { .. }
                | EventKind::InProgress { .. }
                | EventKind::Completed { .. }
                | EventKind::Incomplete { .. }
        );
        if !self.started && !carries_response {
            self.started = true;
            out.push(StreamEvent::Start {
                id: String::new(),
                model: String::new(),
            });
        }
        match event {
            EventKind::Created { response } | EventKind::InProgress { response } => {
                self.start(response, out);
            }
            EventKind::OutputItemAdded { output_index, item } => {
                let kind = match item {
                    Item::Message(_) => BlockKind::Text,
                    Item::Reasoning(_) => BlockKind::Thinking,
                    Item::FunctionCall(call) => {
                        self.has_calls = true;
                        BlockKind::ToolUse {
                            id: call.call_id.clone(),
                            name: call.name.clone(),
                        }
                    }
                    Item::FunctionCallOutput(_) | Item::Other(_) => return Ok(()),
                };
                self.start_block(*output_index, kind, out);
            }
            EventKind::OutputTextDelta {
                output_index,
                delta,
                ..
            } => self.delta(*output_index, Delta::Text(delta.clone()), out),
            EventKind::ReasoningSummaryTextDelta {
                output_index,
                delta,
                ..
            } => self.delta(*output_index, Delta::Thinking(delta.clone()), out),
            EventKind::FunctionCallArgumentsDelta {
                output_index,
                delta,
                ..
            } => self.delta(*output_index, Delta::ToolArguments(delta.clone()), out),
            EventKind::OutputItemDone { output_index, item } => {
                let Some(open) = self.open.remove(output_index) else {
                    return Ok(());
                };
                match item {
                    Item::FunctionCall(call) if !open.streamed && !call.arguments.is_empty() => {
                        out.push(StreamEvent::Delta {
                            index: open.index,
                            delta: Delta::ToolArguments(call.arguments.clone()),
                        });
                    }
                    Item::Reasoning(r) => {
                        if let Some(signature) = &r.encrypted_content {
                            out.push(StreamEvent::Delta {
                                index: open.index,
                                delta: Delta::Signature(signature.clone()),
                            });
                        }
                    }
                    _ => {}
                }
                out.push(StreamEvent::BlockStop { index: open.index });
            }
            EventKind::Completed { response } | EventKind::Incomplete { response } => {
                self.start(response, out);
                self.close_all(out);
                let reason = match response
                    .incomplete_details
                    .as_ref()
                    .map(|d| d.reason.as_str())
                {
                    Some("max_output_tokens") => StopReason::Length,
                    Some("content_filter") => StopReason::ContentFilter,
                    _ if self.has_calls => StopReason::ToolCalls,
                    _ => StopReason::Stop,
                };
                out.push(StreamEvent::Finish {
                    reason,
                    stop_sequence: None,
                });
                if let Some(usage) = &response.usage {
                    out.push(StreamEvent::Usage(decode_usage(usage)));
                }
                self.ended = true;
                out.push(StreamEvent::End);
            }
            EventKind::Failed { response } => {
                let error = response.error.as_ref();
                let text = |key: &str| {
                    error
                        .and_then(|e| e.get(key))
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                };
                return Err(StreamFailure {
                    code: text("code"),
                    message: text("message").unwrap_or_else(|| "the response failed".into()),
                });
            }
            EventKind::Error { code, message, .. } => {
                return Err(StreamFailure {
                    code: code.clone(),
                    message: message.clone(),
                });
            }
            EventKind::ContentPartAdded { .. }
            | EventKind::ContentPartDone { .. }
            | EventKind::OutputTextDone { .. }
            | EventKind::FunctionCallArgumentsDone { .. }
            | EventKind::ReasoningSummaryPartAdded { .. }
            | EventKind::ReasoningSummaryPartDone { .. }
            | EventKind::ReasoningSummaryTextDone { .. } => {}
        }
        Ok(())
    }

    /// The end of the body without `response.completed`: closes what is open and ends as
    /// `Stop` (`ToolCalls` after calls).
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
        self.close_all(out);
        out.push(StreamEvent::Finish {
            reason: if self.has_calls {
                StopReason::ToolCalls
            } else {
                StopReason::Stop
            },
            stop_sequence: None,
        });
        self.ended = true;
        out.push(StreamEvent::End);
    }

    fn start(&mut self, response: &ResponseObject, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: response.id.clone(),
                model: response.model.clone(),
            });
        }
    }

    fn start_block(&mut self, output_index: usize, kind: BlockKind, out: &mut Vec<StreamEvent>) {
        let index = self.next_index;
        self.next_index += 1;
        self.open.insert(
            output_index,
            Open {
                index,
                streamed: false,
            },
        );
        out.push(StreamEvent::BlockStart { index, kind });
    }

    fn delta(&mut self, output_index: usize, delta: Delta, out: &mut Vec<StreamEvent>) {
        if let Some(open) = self.open.get_mut(&output_index) {
            open.streamed = true;
            if matches!(&delta, Delta::Text(t) | Delta::Thinking(t) | Delta::ToolArguments(t) if t.is_empty())
            {
                return;
            }
            out.push(StreamEvent::Delta {
                index: open.index,
                delta,
            });
        }
    }

    fn close_all(&mut self, out: &mut Vec<StreamEvent>) {
        let mut open: Vec<usize> = self.open.drain().map(|(_, o)| o.index).collect();
        open.sort_unstable();
        for index in open {
            out.push(StreamEvent::BlockStop { index });
        }
    }
}
