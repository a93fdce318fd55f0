//! Round trips canonical → OpenAI → canonical on what Chat Completions can represent, and
//! fixed examples of the mapping.

#![expect(clippy::unwrap_used, reason = "tests")]

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::Dialect;
use crate::canonical::arb::{self, word};
use crate::canonical::*;
use crate::openai::{ChatCompletionChunk, ChatCompletionRequest};

fn user_message() -> impl Strategy<Value = Message> {
    let part = prop_oneof![
        word().prop_map(|t| Block::Text(Text::plain(t))),
        arb::image().prop_map(Block::Image),
    ];
    let results = prop::collection::vec(
        (arb::id(), prop::collection::vec(word(), 0..3)).prop_map(|(id, texts)| {
            Block::ToolResult(ToolResult {
                tool_use_id: id,
                content: texts
                    .into_iter()
                    .map(|t| ToolResultContent::Text(Text::plain(t)))
                    .collect(),
                is_error: false,
                cache_control: None,
            })
        }),
        1..3,
    );
    prop_oneof![prop::collection::vec(part, 1..4), results].prop_map(|content| Message {
        role: Role::User,
        content,
    })
}

fn assistant_message() -> impl Strategy<Value = Message> {
    (
        prop::option::of(word()),
        prop::collection::vec(word(), 0..3),
        prop::collection::vec(arb::tool_use(), 0..3),
    )
        .prop_map(|(thinking, texts, calls)| {
            let mut content = Vec::new();
            content.extend(thinking.map(|t| {
                Block::Thinking(Thinking {
                    text: t,
                    signature: None,
                })
            }));
            content.extend(texts.into_iter().map(|t| Block::Text(Text::plain(t))));
            content.extend(calls.into_iter().map(Block::ToolUse));
            Message {
                role: Role::Assistant,
                content,
            }
        })
}

fn request() -> impl Strategy<Value = Request> {
    let sampling = (
        prop::option::of(1u64..100_000),
        prop::option::of(prop_oneof![Just(0.0), Just(0.7), Just(1.5)]),
        prop::option::of(prop_oneof![Just(0.1), Just(0.95)]),
        prop::collection::vec(word(), 0..3),
        prop::option::of(any::<i64>()),
        prop::option::of(Just(0.5)),
        prop::option::of(Just(-1.0)),
    )
        .prop_map(
            |(max_tokens, temperature, top_p, stop, seed, pp, fp)| Sampling {
                max_tokens,
                temperature,
                top_p,
                top_k: None,
                stop,
                seed,
                presence_penalty: pp,
                frequency_penalty: fp,
            },
        );
    let format = prop_oneof![
        Just(ResponseFormat::Text),
        Just(ResponseFormat::JsonObject),
        (
            arb::id(),
            prop::option::of(word()),
            arb::schema(),
            prop::option::of(any::<bool>())
        )
            .prop_map(
                |(name, description, schema, strict)| ResponseFormat::JsonSchema {
                    name,
                    description,
                    schema,
                    strict
                }
            ),
    ];
    let passthrough = prop_oneof![
        Just(Map::new()),
        (1u32..4, any::<bool>()).prop_map(|(n, logprobs)| {
            let mut m = Map::new();
            m.insert("n".into(), json!(n));
            m.insert("logprobs".into(), json!(logprobs));
            m.insert("vendor_extension".into(), json!({"nested": [1, 2]}));
            m
        }),
    ];
    (
        (
            arb::id(),
            prop::collection::vec(word(), 0..3),
            prop::collection::vec(prop_oneof![user_message(), assistant_message()], 1..6),
            prop::collection::vec(arb::tool(), 0..3),
            prop::option::of(arb::tool_choice()),
            prop::option::of(any::<bool>()),
        ),
        (
            prop::option::of(format),
            prop::option::of(
                prop_oneof![Just("low"), Just("high")].prop_map(|e| Reasoning::Effort(e.into())),
            ),
            sampling,
            any::<bool>(),
            prop::option::of(arb::id()),
            passthrough,
        ),
    )
        .prop_map(
            |(
                (model, system, messages, tools, tool_choice, parallel),
                (response_format, reasoning, sampling, stream, user, rest),
            )| {
                // Consecutive tool-result turns are one OpenAI run of tool messages: keep them apart.
                let mut kept: Vec<Message> = Vec::new();
                for m in messages {
                    let only_results = |m: &Message| {
                        m.role == Role::User
                            && m.content.iter().all(|b| matches!(b, Block::ToolResult(_)))
                    };
                    if only_results(&m) && kept.last().is_some_and(only_results) {
                        continue;
                    }
                    kept.push(m);
                }
                Request {
                    model,
                    system: system.into_iter().map(Text::plain).collect(),
                    messages: kept,
                    tools,
                    tool_choice,
                    parallel_tool_calls: parallel,
                    response_format,
                    reasoning,
                    sampling,
                    stream,
                    user,
                    passthrough: Passthrough::from(Dialect::OpenAi, rest),
                }
            },
        )
}

fn response() -> impl Strategy<Value = Response> {
    (
        arb::id(),
        arb::id(),
        prop::option::of(word()),
        prop::option::of(word()),
        prop::collection::vec(arb::tool_use(), 0..3),
        prop::option::of(prop_oneof![
            Just(StopReason::Stop),
            Just(StopReason::Length),
            Just(StopReason::ToolCalls),
            Just(StopReason::ContentFilter)
        ]),
        arb::usage(false, true),
    )
        .prop_map(|(id, model, thinking, text, calls, stop_reason, usage)| {
            let mut content = Vec::new();
            content.extend(thinking.map(|t| {
                Block::Thinking(Thinking {
                    text: t,
                    signature: None,
                })
            }));
            content.extend(text.map(|t| Block::Text(Text::plain(t))));
            content.extend(calls.into_iter().map(Block::ToolUse));
            Response {
                id,
                model,
                content,
                stop_reason,
                stop_sequence: None,
                usage,
            }
        })
}

proptest! {
    #[test]
    fn requests_round_trip(req in request()) {
        let wire = encode_request(&req);
        // Through JSON too: what the upstream receives is the serialized form.
        let wire: ChatCompletionRequest = serde_json::from_value(serde_json::to_value(&wire).unwrap()).unwrap();
        prop_assert_eq!(decode_request(&wire).unwrap(), req);
    }

    #[test]
    fn responses_round_trip(resp in response()) {
        let wire = encode_response(&resp, 1);
        let wire = serde_json::from_value(serde_json::to_value(&wire).unwrap()).unwrap();
        prop_assert_eq!(decode_response(&wire), resp);
    }

    #[test]
    fn streams_round_trip(events in arb::stream(
        true, false,
        prop_oneof![Just(StopReason::Stop), Just(StopReason::Length), Just(StopReason::ToolCalls), Just(StopReason::ContentFilter)],
        arb::usage(false, true),
    )) {
        let model = match &events[0] { StreamEvent::Start { model, .. } => model.clone(), _ => unreachable!() };
        let mut encoder = ChunkEncoder::new(model, 1, true);
        let mut chunks = Vec::new();
        for e in &events {
            encoder.push(e, &mut chunks);
        }
        let mut decoder = ChunkDecoder::new();
        let mut back = Vec::new();
        for c in chunks {
            match c {
                ChunkOut::Chunk(c) => {
                    let c: ChatCompletionChunk = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
                    decoder.push(&c, &mut back);
                }
                ChunkOut::Done => decoder.finish(&mut back),
            }
        }
        // OpenAI chunks do not say when a call's arguments are complete: a call stays open
        // until the next text, the finish or the end. The rest comes back exactly.
        let no_stops = |events: &[StreamEvent]| -> Vec<StreamEvent> {
            events.iter().filter(|e| !matches!(e, StreamEvent::BlockStop { .. })).cloned().collect()
        };
        prop_assert_eq!(no_stops(&back), no_stops(&events));
        arb::check_well_formed(&back).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn usage_includes_cache_reads_in_prompt_tokens() {
    let usage = crate::Usage {
        input: 86,
        cache_read: 1920,
        cache_write: 0,
        output: 300,
        reasoning: 256,
    };
    let wire = serde_json::to_value(encode_usage(&usage)).unwrap();
    assert_eq!(wire["prompt_tokens"], 2006);
    assert_eq!(wire["prompt_tokens_details"]["cached_tokens"], 1920);
    assert_eq!(wire["completion_tokens"], 300);
    assert_eq!(wire["completion_tokens_details"]["reasoning_tokens"], 256);
    assert_eq!(wire["total_tokens"], 2306);
}

#[test]
fn tool_messages_become_one_user_turn_and_mid_conversation_system_stays() {
    let req: ChatCompletionRequest = serde_json::from_value(json!({
        "model": "m",
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{\"x\":1}"}}
            ]},
            {"role": "tool", "tool_call_id": "a", "content": "one"},
            {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "two"}]},
            {"role": "system", "content": "now in French"}
        ],
        "top_k": 5
    }))
    .unwrap();
    let c = decode_request(&req).unwrap();
    assert_eq!(c.system, vec![Text::plain("be brief")]);
    assert_eq!(c.messages.len(), 4);
    assert_eq!(
        c.messages[2].content.len(),
        2,
        "both results in one user turn"
    );
    assert_eq!(c.messages[3].role, Role::System);
    assert_eq!(
        c.passthrough.fields.get("top_k"),
        Some(&Value::from(5)),
        "vendor extension kept"
    );
    let err = decode_request(&serde_json::from_value(json!({
        "model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}]
    })).unwrap()).unwrap_err();
    assert_eq!(err.field, "messages[0].content[0].type");
}

/// Parallel calls whose arguments interleave stay open until the finish, so no delta
/// arrives after its block stopped (encoders that gather arguments until `BlockStop`,
/// Gemini's and Ollama's, would lose them).
#[test]
fn decoder_handles_interleaved_parallel_tool_arguments() {
    let chunks = [
        json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}]}}]}),
        json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 1, "id": "b", "type": "function", "function": {"name": "g", "arguments": "{\"y\""}}]}}]}),
        json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": "{}"}}]}}]}),
        json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
    ];
    let mut d = ChunkDecoder::new();
    let mut out = Vec::new();
    for c in chunks {
        d.push(&serde_json::from_value(c).unwrap(), &mut out);
    }
    d.finish(&mut out);
    assert_eq!(
        out,
        vec![
            StreamEvent::Start {
                id: "c".into(),
                model: "m".into()
            },
            StreamEvent::BlockStart {
                index: 0,
                kind: BlockKind::ToolUse {
                    id: "a".into(),
                    name: "f".into()
                }
            },
            StreamEvent::BlockStart {
                index: 1,
                kind: BlockKind::ToolUse {
                    id: "b".into(),
                    name: "g".into()
                }
            },
            StreamEvent::Delta {
                index: 1,
                delta: Delta::ToolArguments("{\"y\"".into())
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::ToolArguments("{}".into())
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::Finish {
                reason: StopReason::ToolCalls,
                stop_sequence: None
            },
            StreamEvent::End,
        ]
    );
}
