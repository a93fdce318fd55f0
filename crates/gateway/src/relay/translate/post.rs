//! Post-processing of a translated answer, between decoding the upstream's and encoding the
//! client's, on whole answers and on streams alike:
//! 1. structured output that reached Anthropic as a forced tool is unwrapped back to JSON text;
//! 2. `<think>…</think>` written inline by models configured with `think_tags` is moved into
//!    reasoning (thinking blocks), which each dialect renders its own way;
//! 3. Gemini clients get thoughts only when they asked (`thinkingConfig.includeThoughts`);
//!    the usage still counts them.

use wire::anthropic::codec::structured;
use wire::canonical::think::{ThinkSplitter, split_response};
use wire::canonical::{Block, Delta};
use wire::canonical::{Response, StreamEvent};
use wire::{Dialect, WireFormat};

use super::Translated;
use crate::routing::plan::PlanTarget;

/// What is done to one attempt's answer.
#[derive(Debug, Default)]
pub(super) struct Post {
    unwrap: Option<structured::Unwrapper>,
    output_tool: Option<String>,
    think: Option<ThinkSplitter>,
    drop_thoughts: bool,
}

impl Post {
    pub(super) fn new(t: &Translated, target: &PlanTarget<'_>) -> Self {
        // Only Anthropic lacks a structured-output field of its own.
        let output_tool = (target.provider.wire_format == WireFormat::Anthropic)
            .then(|| structured::output_tool(&t.request).map(|o| o.name))
            .flatten();
        Self {
            unwrap: output_tool.as_deref().map(structured::Unwrapper::new),
            output_tool,
            think: think_tags(target).then(ThinkSplitter::new),
            drop_thoughts: t.client == Dialect::Gemini
                && !crate::ingress::gemini::includes_thoughts(&t.request),
        }
    }

    /// A whole answer.
    pub(super) fn response(&self, resp: &mut Response) {
        if let Some(tool) = &self.output_tool {
            structured::unwrap_response(resp, tool);
        }
        if self.think.is_some() {
            split_response(resp);
        }
        if self.drop_thoughts {
            resp.content
                .retain(|b| !matches!(b, Block::Thinking(_) | Block::RedactedThinking { .. }));
        }
    }

    /// The events decoded so far, rewritten in place.
    pub(super) fn stream(&mut self, events: &mut Vec<StreamEvent>) {
        if let Some(unwrap) = &mut self.unwrap {
            events.iter_mut().for_each(|e| unwrap.map(e));
        }
        if let Some(think) = &mut self.think {
            let mut out = Vec::with_capacity(events.len() + 2);
            for e in events.drain(..) {
                think.push(e, &mut out);
            }
            *events = out;
        }
        if self.drop_thoughts {
            // The blocks' start and stop stay: they carry nothing a Gemini client sees.
            events.retain(|e| {
                !matches!(
                    e,
                    StreamEvent::Delta {
                        delta: Delta::Thinking(_) | Delta::Signature(_),
                        ..
                    }
                )
            });
        }
    }
}

/// Whether the target's model writes its reasoning inline as `<think>…</think>`.
pub(crate) fn think_tags(target: &PlanTarget<'_>) -> bool {
    target
        .provider
        .models
        .get(target.model)
        .is_some_and(|m| m.think_tags)
}
