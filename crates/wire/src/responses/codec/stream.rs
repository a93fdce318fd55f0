//! Canonical [`StreamEvent`]s → Responses stream events.
//!
//! `Start` opens the response (`response.created`, `response.in_progress`); each block is an
//! output item, added when it starts and done when it stops: text as a message with one
//! `output_text` part, a tool call as a `function_call`, thinking as a `reasoning` item with
//! one summary part. `End` closes the response with `response.completed` (or
//! `response.incomplete` when the length limit or a filter stopped it), carrying every output
//! item and the usage. Events are numbered from 0 by `sequence_number`.

use std::collections::HashMap;

use super::encode_usage;
use super::response::{item_id, message_item, output_text, status};
use crate::Usage;
use crate::canonical::{BlockKind, Delta, StopReason, StreamEvent};
use crate::responses::{
    ContentPart, Event, EventKind, FunctionCallItem, Item, MessageContent, MessageItem,
    ReasoningItem, ResponseObject, SummaryText,
};

/// Turns canonical events into Responses events.
#[derive(Debug)]
pub struct EventEncoder {
    response: ResponseObject,
    sequence: u64,
    /// Canonical block index → output index.
    blocks: HashMap<usize, usize>,
    usage: Usage,
    stop: Option<StopReason>,
    started: bool,
}

impl EventEncoder {
    /// An encoder for the response `base` (from [`super::base_response`]): its id, model and
    /// echoed settings.
    pub fn new(base: ResponseObject) -> Self {
        Self {
            response: base,
            sequence: 0,
            blocks: HashMap::new(),
            usage: Usage::default(),
            stop: None,
            started: false,
        }
    }

    /// Whether `response.created` has gone out.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// The next `sequence_number`, e.g. for an error event that ends the stream.
    pub fn next_sequence(&self) -> u64 {
        self.sequence
    }

    /// The events ending a stream that failed: `response.failed` (the response so far, with
    /// `error`) and an `error` event.
    pub fn fail(&mut self, code: Option<String>, message: String, out: &mut Vec<Event>) {
        self.response.status = "failed".into();
        self.response.error = Some(serde_json::json!({
            "code": code.clone().unwrap_or_else(|| "server_error".into()),
            "message": message.clone(),
        }));
        self.response.usage = Some(encode_usage(&self.usage));
        let response = Box::new(self.response.clone());
        self.emit(EventKind::Failed { response }, out);
        self.emit(
            EventKind::Error {
                error: Some(serde_json::json!({
                    "type": "server_error",
                    "code": code.clone(),
                    "message": message.clone(),
                })),
                code,
                message,
                param: None,
            },
            out,
        );
    }

    fn emit(&mut self, kind: EventKind, out: &mut Vec<Event>) {
        out.push(Event {
            kind,
            sequence_number: self.sequence,
        });
        self.sequence += 1;
    }

    fn item_id(&self, output_index: usize) -> String {
        match self.response.output.get(output_index) {
            Some(Item::Message(m)) => m.id.clone(),
            Some(Item::FunctionCall(c)) => c.id.clone(),
            Some(Item::Reasoning(r)) => r.id.clone(),
            _ => None,
        }
        .unwrap_or_default()
    }

    /// The Responses events for one canonical event, appended to `out`.
    pub fn push(&mut self, event: &StreamEvent, out: &mut Vec<Event>) {
        match event {
            StreamEvent::Start { .. } => {
                self.started = true;
                let snapshot = Box::new(self.response.clone());
                self.emit(
                    EventKind::Created {
                        response: snapshot.clone(),
                    },
                    out,
                );
                self.emit(EventKind::InProgress { response: snapshot }, out);
            }
            StreamEvent::BlockStart { index, kind } => self.start_block(*index, kind, out),
            StreamEvent::Delta { index, delta } => {
                let Some(&n) = self.blocks.get(index) else {
                    return;
                };
                self.delta(n, delta, out);
            }
            StreamEvent::BlockStop { index } => {
                if let Some(&n) = self.blocks.get(index) {
                    self.stop_block(n, out);
                }
            }
            StreamEvent::Finish { reason, .. } => self.stop = Some(*reason),
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::End => {
                let (status, incomplete) = status(self.stop);
                self.response.status = status.into();
                self.response.incomplete_details = incomplete.clone();
                self.response.usage = Some(encode_usage(&self.usage));
                let response = Box::new(self.response.clone());
                let kind = if incomplete.is_some() {
                    EventKind::Incomplete { response }
                } else {
                    EventKind::Completed { response }
                };
                self.emit(kind, out);
            }
        }
    }

    fn start_block(&mut self, index: usize, kind: &BlockKind, out: &mut Vec<Event>) {
        let n = self.response.output.len();
        self.blocks.insert(index, n);
        let id = &self.response.id;
        let item = match kind {
            BlockKind::Text => message_item(item_id("msg", id, n), Vec::new(), "in_progress"),
            BlockKind::ToolUse { id: call_id, name } => {
                let (namespace, name) = super::tools::call_name_in(&self.response.tools, name);
                Item::FunctionCall(FunctionCallItem {
                    id: Some(item_id("fc", id, n)),
                    call_id: call_id.clone(),
                    name,
                    namespace,
                    arguments: String::new(),
                    status: Some("in_progress".into()),
                })
            }
            BlockKind::Thinking => Item::Reasoning(ReasoningItem {
                id: Some(item_id("rs", id, n)),
                ..ReasoningItem::default()
            }),
            BlockKind::RedactedThinking { data } => Item::Reasoning(ReasoningItem {
                id: Some(item_id("rs", id, n)),
                encrypted_content: Some(data.clone()),
                ..ReasoningItem::default()
            }),
        };
        self.response.output.push(item.clone());
        self.emit(
            EventKind::OutputItemAdded {
                output_index: n,
                item,
            },
            out,
        );
        let item_id = self.item_id(n);
        match kind {
            BlockKind::Text => {
                if let Some(Item::Message(MessageItem {
                    content: MessageContent::Parts(parts),
                    ..
                })) = self.response.output.get_mut(n)
                {
                    parts.push(output_text(String::new()));
                }
                self.emit(
                    EventKind::ContentPartAdded {
                        item_id,
                        output_index: n,
                        content_index: 0,
                        part: output_text(String::new()),
                    },
                    out,
                );
            }
            BlockKind::Thinking => {
                if let Some(Item::Reasoning(r)) = self.response.output.get_mut(n) {
                    r.summary.push(SummaryText::new(""));
                }
                self.emit(
                    EventKind::ReasoningSummaryPartAdded {
                        item_id,
                        output_index: n,
                        summary_index: 0,
                        part: SummaryText::new(""),
                    },
                    out,
                );
            }
            BlockKind::ToolUse { .. } | BlockKind::RedactedThinking { .. } => {}
        }
    }

    fn delta(&mut self, n: usize, delta: &Delta, out: &mut Vec<Event>) {
        let item_id = self.item_id(n);
        let Some(item) = self.response.output.get_mut(n) else {
            return;
        };
        let kind = match (item, delta) {
            (
                Item::Message(MessageItem {
                    content: MessageContent::Parts(parts),
                    ..
                }),
                Delta::Text(text),
            ) => {
                if let Some(ContentPart::OutputText(t)) = parts.first_mut() {
                    t.text.push_str(text);
                }
                EventKind::OutputTextDelta {
                    item_id,
                    output_index: n,
                    content_index: 0,
                    delta: text.clone(),
                    logprobs: Vec::new(),
                }
            }
            (Item::FunctionCall(c), Delta::ToolArguments(a)) => {
                c.arguments.push_str(a);
                EventKind::FunctionCallArgumentsDelta {
                    item_id,
                    output_index: n,
                    delta: a.clone(),
                }
            }
            (Item::Reasoning(r), Delta::Thinking(t)) => {
                if let Some(s) = r.summary.first_mut() {
                    s.text.push_str(t);
                }
                EventKind::ReasoningSummaryTextDelta {
                    item_id,
                    output_index: n,
                    summary_index: 0,
                    delta: t.clone(),
                }
            }
            (Item::Reasoning(r), Delta::Signature(s)) => {
                r.encrypted_content
                    .get_or_insert_with(String::new)
                    .push_str(s);
                return;
            }
            _ => return,
        };
        self.emit(kind, out);
    }

    fn stop_block(&mut self, n: usize, out: &mut Vec<Event>) {
        let item_id = self.item_id(n);
        let Some(item) = self.response.output.get_mut(n) else {
            return;
        };
        let mut events = Vec::new();
        match item {
            Item::Message(m) => {
                m.status = Some("completed".into());
                let text = match &m.content {
                    MessageContent::Parts(parts) => match parts.first() {
                        Some(ContentPart::OutputText(t)) => t.text.clone(),
                        _ => String::new(),
                    },
                    MessageContent::Text(t) => t.clone(),
                };
                events.push(EventKind::OutputTextDone {
                    item_id: item_id.clone(),
                    output_index: n,
                    content_index: 0,
                    text: text.clone(),
                    logprobs: Vec::new(),
                });
                events.push(EventKind::ContentPartDone {
                    item_id,
                    output_index: n,
                    content_index: 0,
                    part: output_text(text),
                });
            }
            Item::FunctionCall(c) => {
                c.status = Some("completed".into());
                events.push(EventKind::FunctionCallArgumentsDone {
                    item_id,
                    output_index: n,
                    name: Some(c.name.clone()),
                    arguments: c.arguments.clone(),
                });
            }
            Item::Reasoning(r) => {
                if let Some(s) = r.summary.first().cloned() {
                    events.push(EventKind::ReasoningSummaryTextDone {
                        item_id: item_id.clone(),
                        output_index: n,
                        summary_index: 0,
                        text: s.text.clone(),
                    });
                    events.push(EventKind::ReasoningSummaryPartDone {
                        item_id,
                        output_index: n,
                        summary_index: 0,
                        part: s,
                    });
                }
            }
            Item::FunctionCallOutput(_) | Item::Other(_) => {}
        }
        // A thinking block that never said anything has no summary.
        if let Item::Reasoning(r) = &mut *item
            && r.summary.first().is_some_and(|s| s.text.is_empty())
        {
            r.summary.clear();
            events.retain(|e| {
                !matches!(
                    e,
                    EventKind::ReasoningSummaryTextDone { .. }
                        | EventKind::ReasoningSummaryPartDone { .. }
                )
            });
        }
        let item = item.clone();
        for kind in events {
            self.emit(kind, out);
        }
        self.emit(
            EventKind::OutputItemDone {
                output_index: n,
                item,
            },
            out,
        );
    }
}
