//! Proptest strategies for canonical values, shared by the codecs' round-trip tests. Each
//! dialect's tests pick the subset that dialect can represent.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::Usage;

pub fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _.,!?é\n]{1,12}"
}

pub fn id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_]{1,10}"
}

pub fn schema() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"type": "object", "properties": {}})),
        id().prop_map(|p| json!({"type": "object", "properties": {p.clone(): {"type": "string"}}, "required": [p]})),
    ]
}

/// Arguments as compact JSON text of an object, as both dialects can carry them.
pub fn arguments() -> impl Strategy<Value = String> {
    prop::collection::btree_map(
        id(),
        prop_oneof![
            word().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from)
        ],
        0..3,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()).to_string())
}

pub fn image() -> impl Strategy<Value = Image> {
    prop_oneof![
        ("image/(png|jpeg)", "[A-Za-z0-9+/]{4,16}")
            .prop_map(|(media_type, data)| ImageSource::Base64 { media_type, data }),
        id().prop_map(|p| ImageSource::Url(format!("https://example.com/{p}.png"))),
    ]
    .prop_map(|source| Image {
        source,
        detail: None,
        cache_control: None,
    })
}

pub fn tool_use() -> impl Strategy<Value = ToolUse> {
    (id(), id(), arguments()).prop_map(|(id, name, arguments)| ToolUse {
        id,
        name,
        arguments,
        cache_control: None,
    })
}

pub fn usage(cache_write: bool, reasoning: bool) -> impl Strategy<Value = Usage> {
    (
        0u64..100_000,
        0u64..100_000,
        0u64..100_000,
        0u64..10_000,
        0u64..10_000,
    )
        .prop_map(move |(input, cache_read, cw, output, r)| Usage {
            input,
            cache_read,
            cache_write: if cache_write { cw } else { 0 },
            output: output + if reasoning { r } else { 0 },
            reasoning: if reasoning { r } else { 0 },
        })
}

pub fn tool() -> impl Strategy<Value = Tool> {
    (id(), prop::option::of(word()), schema()).prop_map(|(name, description, parameters)| Tool {
        name,
        description,
        parameters,
        strict: None,
        cache_control: None,
        namespace: None,
    })
}

pub fn tool_choice() -> impl Strategy<Value = ToolChoice> {
    prop_oneof![
        Just(ToolChoice::Auto),
        Just(ToolChoice::None),
        Just(ToolChoice::Required),
        id().prop_map(ToolChoice::Tool),
    ]
}

/// A well-formed stream: `Start`, blocks one after another (no two text or two thinking
/// blocks in a row), `Finish`, `Usage`, `End`. `thinking` adds thinking blocks with
/// signatures when `signatures`.
pub fn stream(
    thinking: bool,
    signatures: bool,
    reasons: impl Strategy<Value = StopReason>,
    usage: impl Strategy<Value = Usage>,
) -> impl Strategy<Value = Vec<StreamEvent>> {
    #[derive(Debug, Clone)]
    enum B {
        Text(Vec<String>),
        Thinking(Vec<String>, Option<String>),
        Tool(String, String, Vec<String>),
    }
    let block = prop_oneof![
        prop::collection::vec(word(), 1..4).prop_map(B::Text),
        (prop::collection::vec(word(), 1..3), id())
            .prop_map(move |(t, s)| B::Thinking(t, signatures.then_some(s))),
        (id(), id(), prop::collection::vec(word(), 1..4)).prop_map(|(i, n, a)| B::Tool(i, n, a)),
    ];
    (
        id(),
        id(),
        prop::collection::vec(block, 0..5),
        reasons,
        usage,
    )
        .prop_map(move |(id, model, blocks, reason, usage)| {
            let mut out = vec![StreamEvent::Start { id, model }];
            let mut last: Option<u8> = None;
            let mut index = 0;
            for b in blocks {
                let tag = match &b {
                    B::Text(_) => 0,
                    B::Thinking(..) => 1,
                    B::Tool(..) => 2,
                };
                if (tag == 1 && !thinking) || (tag != 2 && last == Some(tag)) {
                    continue;
                }
                last = Some(tag);
                match b {
                    B::Text(parts) => {
                        out.push(StreamEvent::BlockStart {
                            index,
                            kind: BlockKind::Text,
                        });
                        out.extend(parts.into_iter().map(|p| StreamEvent::Delta {
                            index,
                            delta: Delta::Text(p),
                        }));
                    }
                    B::Thinking(parts, sig) => {
                        out.push(StreamEvent::BlockStart {
                            index,
                            kind: BlockKind::Thinking,
                        });
                        out.extend(parts.into_iter().map(|p| StreamEvent::Delta {
                            index,
                            delta: Delta::Thinking(p),
                        }));
                        out.extend(sig.map(|s| StreamEvent::Delta {
                            index,
                            delta: Delta::Signature(s),
                        }));
                    }
                    B::Tool(id, name, parts) => {
                        out.push(StreamEvent::BlockStart {
                            index,
                            kind: BlockKind::ToolUse { id, name },
                        });
                        out.extend(parts.into_iter().map(|p| StreamEvent::Delta {
                            index,
                            delta: Delta::ToolArguments(p),
                        }));
                    }
                }
                out.push(StreamEvent::BlockStop { index });
                index += 1;
            }
            out.push(StreamEvent::Finish {
                reason,
                stop_sequence: None,
            });
            out.push(StreamEvent::Usage(usage));
            out.push(StreamEvent::End);
            out
        })
}

/// The canonical answer a well-formed stream adds up to.
pub fn assemble(events: &[StreamEvent]) -> Response {
    let mut resp = Response::default();
    let mut index = std::collections::HashMap::new();
    for e in events {
        match e {
            StreamEvent::Start { model, .. } => resp.model.clone_from(model),
            StreamEvent::BlockStart { index: i, kind } => {
                index.insert(*i, resp.content.len());
                resp.content.push(match kind {
                    BlockKind::Text => Block::Text(Text::plain("")),
                    BlockKind::Thinking => Block::Thinking(Thinking::default()),
                    BlockKind::RedactedThinking { data } => {
                        Block::RedactedThinking { data: data.clone() }
                    }
                    BlockKind::ToolUse { id, name } => Block::ToolUse(ToolUse {
                        id: id.clone(),
                        name: name.clone(),
                        ..ToolUse::default()
                    }),
                });
            }
            StreamEvent::Delta { index: i, delta } => match (&mut resp.content[index[i]], delta) {
                (Block::Text(t), Delta::Text(d)) => t.text.push_str(d),
                (Block::Thinking(t), Delta::Thinking(d)) => t.text.push_str(d),
                (Block::ToolUse(u), Delta::ToolArguments(d)) => u.arguments.push_str(d),
                _ => {}
            },
            StreamEvent::Finish { reason, .. } => resp.stop_reason = Some(*reason),
            StreamEvent::Usage(u) => resp.usage = *u,
            StreamEvent::BlockStop { .. } | StreamEvent::End => {}
        }
    }
    resp
}

/// Checks the shape of a stream: `Start` first, `End` last; every delta and stop is for a
/// block that started and has not stopped; every block stops.
pub fn check_well_formed(events: &[StreamEvent]) -> Result<(), String> {
    if !matches!(events.first(), Some(StreamEvent::Start { .. })) {
        return Err("the stream does not begin with Start".into());
    }
    if events.last() != Some(&StreamEvent::End) {
        return Err("the stream does not end with End".into());
    }
    let mut open = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeSet::new();
    for e in events {
        match e {
            StreamEvent::BlockStart { index, .. } => {
                if !seen.insert(*index) {
                    return Err(format!("block {index} started twice"));
                }
                open.insert(*index);
            }
            StreamEvent::Delta { index, .. } if !open.contains(index) => {
                return Err(format!("a delta of block {index}, which is not open"));
            }
            // The guard closes the block; it fails when the block was not open.
            StreamEvent::BlockStop { index } if !open.remove(index) => {
                return Err(format!("block {index} stopped while not open"));
            }
            _ => {}
        }
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!("blocks {open:?} never stopped"))
    }
}
