//! Round trips canonical → Gemini → canonical on what the Gemini API can represent, and
//! fixed examples of the mapping (ids for calls without one, schemas, usage, streams).

#![expect(clippy::unwrap_used, reason = "tests")]

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::Dialect;
use crate::canonical::arb::{self, word};
use crate::canonical::*;
use crate::gemini::{GenerateContentRequest, GenerateContentResponse};

fn user_message() -> impl Strategy<Value = Message> {
    let block = prop_oneof![
        word().prop_map(|t| Block::Text(Text::plain(t))),
        arb::image().prop_map(Block::Image),
    ];
    prop::collection::vec(block, 1..4).prop_map(|content| Message {
        role: Role::User,
        content,
    })
}

/// An assistant turn with calls, and the user turn answering each of them.
fn call_and_results() -> impl Strategy<Value = Vec<Message>> {
    let thinking = prop::option::of(
        (word(), prop::option::of(arb::id()))
            .prop_map(|(text, signature)| Block::Thinking(Thinking { text, signature })),
    );
    (
        thinking,
        prop::option::of(word()),
        prop::collection::vec((arb::tool_use(), word(), any::<bool>()), 0..3),
    )
        .prop_map(|(thinking, text, calls)| {
            let mut assistant: Vec<Block> = thinking.into_iter().collect();
            assistant.extend(text.map(|t| Block::Text(Text::plain(t))));
            let mut results = Vec::new();
            for (i, (mut call, result, is_error)) in calls.into_iter().enumerate() {
                call.id = format!("{}_{i}", call.id);
                results.push(Block::ToolResult(ToolResult {
                    tool_use_id: call.id.clone(),
                    content: vec![ToolResultContent::Text(Text::plain(result))],
                    is_error,
                    cache_control: None,
                }));
                assistant.push(Block::ToolUse(call));
            }
            if assistant.is_empty() {
                assistant.push(Block::Text(Text::plain("ok")));
            }
            let mut out = vec![Message {
                role: Role::Assistant,
                content: assistant,
            }];
            if !results.is_empty() {
                out.push(Message {
                    role: Role::User,
                    content: results,
                });
            }
            out
        })
}

fn request() -> impl Strategy<Value = Request> {
    let sampling = (
        prop::option::of(1u64..100_000),
        prop::option::of(prop_oneof![Just(0.0), Just(0.7), Just(1.0)]),
        prop::option::of(Just(0.9)),
        prop::option::of(1u64..100),
        prop::collection::vec(word(), 0..3),
        prop::option::of(any::<i64>()),
        prop::option::of(Just(0.5)),
        prop::option::of(Just(-0.5)),
    )
        .prop_map(
            |(max_tokens, temperature, top_p, top_k, stop, seed, presence, frequency)| Sampling {
                max_tokens,
                temperature,
                top_p,
                top_k,
                stop,
                seed,
                presence_penalty: presence,
                frequency_penalty: frequency,
            },
        );
    let format = prop::option::of(prop_oneof![
        Just(ResponseFormat::JsonObject),
        arb::schema().prop_map(|schema| ResponseFormat::JsonSchema {
            name: "response".into(),
            description: None,
            schema,
            strict: None,
        }),
    ]);
    let reasoning = prop::option::of(prop_oneof![
        Just(Reasoning::Disabled),
        (1u64..32000).prop_map(Reasoning::Budget),
        Just(Reasoning::Effort("low".into())),
    ]);
    let passthrough = prop_oneof![
        Just(Map::new()),
        Just(
            json!({"safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]})
                .as_object()
                .unwrap()
                .clone()
        ),
    ];
    (
        (
            arb::id(),
            prop::collection::vec(word().prop_map(Text::plain), 0..3),
            user_message(),
            call_and_results(),
        ),
        (
            prop::collection::vec(arb::tool(), 0..3),
            prop::option::of(arb::tool_choice()),
        ),
        (format, reasoning, sampling, passthrough),
    )
        .prop_map(
            |(
                (model, system, user, exchange),
                (tools, tool_choice),
                (response_format, reasoning, sampling, rest),
            )| {
                let mut messages = vec![user];
                messages.extend(exchange);
                Request {
                    model,
                    system,
                    messages,
                    tools: tools
                        .into_iter()
                        .map(|mut t| {
                            t.strict = None;
                            t
                        })
                        .collect(),
                    tool_choice,
                    parallel_tool_calls: None,
                    response_format,
                    reasoning,
                    sampling,
                    stream: false,
                    user: None,
                    passthrough: Passthrough::from(Dialect::Gemini, rest),
                }
            },
        )
}

fn response() -> impl Strategy<Value = Response> {
    let block = prop_oneof![
        word().prop_map(|t| Block::Text(Text::plain(t))),
        (word(), prop::option::of(arb::id()))
            .prop_map(|(text, signature)| Block::Thinking(Thinking { text, signature })),
        arb::tool_use().prop_map(Block::ToolUse),
    ];
    (
        arb::id(),
        arb::id(),
        prop::collection::vec(block, 0..4),
        prop::option::of(prop_oneof![
            Just(StopReason::Stop),
            Just(StopReason::Length),
            Just(StopReason::ContentFilter),
        ]),
        arb::usage(false, true),
    )
        .prop_map(|(id, model, content, stop, usage)| {
            let calls = content.iter().any(|b| matches!(b, Block::ToolUse(_)));
            Response {
                id,
                model,
                content,
                stop_reason: stop.map(|s| {
                    if calls && s == StopReason::Stop {
                        StopReason::ToolCalls
                    } else {
                        s
                    }
                }),
                stop_sequence: None,
                usage,
            }
        })
}

fn via_json<T: serde::Serialize, U: serde::de::DeserializeOwned>(v: &T) -> U {
    serde_json::from_value(serde_json::to_value(v).unwrap()).unwrap()
}

proptest! {
    #[test]
    fn requests_round_trip(req in request()) {
        let wire: GenerateContentRequest = via_json(&encode_request(&req));
        prop_assert_eq!(decode_request(&wire).unwrap(), req);
    }

    #[test]
    fn responses_round_trip(resp in response()) {
        let wire: GenerateContentResponse = via_json(&encode_response(&resp));
        prop_assert_eq!(decode_response(&wire), resp);
    }

    /// The chunks of a stream, each decoded like a response and put together, say what the
    /// whole answer says: the same text, thoughts, calls, stop reason and usage.
    #[test]
    fn stream_chunks_add_up_to_the_answer(
        events in arb::stream(
            true,
            false,
            prop_oneof![Just(StopReason::Stop), Just(StopReason::Length)],
            arb::usage(false, true),
        )
    ) {
        let mut enc = ChunkEncoder::new("m");
        let mut chunks = Vec::new();
        for e in &events {
            enc.push(e, &mut chunks);
        }
        let (last, _) = chunks.split_last().unwrap();
        let mut folded = Vec::new();
        for chunk in &chunks {
            let wire: GenerateContentResponse = via_json(chunk);
            folded.extend(decode_response(&wire).content);
        }
        let mut assembled = arb::assemble(&events);
        assembled.model = "m".into();
        let whole = decode_response(&via_json(&encode_response(&assembled)));
        prop_assert_eq!(merged(folded), merged(whole.content.clone()));
        let has_calls = whole.content.iter().any(|b| matches!(b, Block::ToolUse(_)));
        let finish = last.candidates[0].finish_reason.as_deref().unwrap();
        prop_assert_eq!(Some(stop_reason(finish, has_calls)), whole.stop_reason);
        prop_assert_eq!(decode_response(&via_json(last)).usage, whole.usage);
    }
}

/// Adjacent text (and adjacent thinking) blocks joined, as a client reading a stream sees
/// them.
fn merged(blocks: Vec<Block>) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for b in blocks {
        match (out.last_mut(), b) {
            (Some(Block::Text(a)), Block::Text(b)) => a.text.push_str(&b.text),
            (Some(Block::Thinking(a)), Block::Thinking(b)) => a.text.push_str(&b.text),
            (_, b) => out.push(b),
        }
    }
    out
}

fn decode(body: Value) -> Request {
    decode_request(&serde_json::from_value(body).unwrap()).unwrap()
}

#[test]
fn calls_without_ids_get_ids_their_responses_find_again() {
    let req = decode(json!({
        "model": "models/gemini-x",
        "contents": [
            { "role": "user", "parts": [{ "text": "weather?" }] },
            { "role": "model", "parts": [
                { "functionCall": { "name": "get_weather", "args": { "city": "Paris" } } },
                { "functionCall": { "name": "get_time", "args": {} } }
            ] },
            { "role": "user", "parts": [
                { "functionResponse": { "name": "get_time", "response": { "result": "noon" } } },
                { "functionResponse": { "name": "get_weather", "response": { "temp": 21 } } }
            ] }
        ]
    }));
    assert_eq!(req.model, "gemini-x");
    let Block::ToolUse(weather) = &req.messages[1].content[0] else {
        panic!()
    };
    let Block::ToolUse(time) = &req.messages[1].content[1] else {
        panic!()
    };
    assert_eq!(
        (weather.id.as_str(), time.id.as_str()),
        ("call_1_0", "call_1_1")
    );
    assert_eq!(weather.arguments, r#"{"city":"Paris"}"#);
    let Block::ToolResult(r0) = &req.messages[2].content[0] else {
        panic!()
    };
    let Block::ToolResult(r1) = &req.messages[2].content[1] else {
        panic!()
    };
    assert_eq!(r0.tool_use_id, "call_1_1");
    assert_eq!(
        r0.content,
        vec![ToolResultContent::Text(Text::plain("noon"))]
    );
    assert_eq!(r1.tool_use_id, "call_1_0");
    assert_eq!(
        r1.content,
        vec![ToolResultContent::Text(Text::plain(r#"{"temp":21}"#))]
    );
}

#[test]
fn openapi_schemas_become_json_schema_and_snake_case_is_read() {
    let req = decode(json!({
        "contents": [{ "parts": [{ "text": "hi" }] }],
        "system_instruction": { "parts": [{ "text": "be brief" }] },
        "tools": [{ "function_declarations": [{ "name": "f", "parameters": {
            "type": "OBJECT",
            "properties": { "a": { "type": "STRING", "nullable": true }, "b": { "type": "ARRAY", "items": { "type": "INTEGER" } } },
            "propertyOrdering": ["a", "b"],
            "required": ["a"]
        } }] }],
        "tool_config": { "function_calling_config": { "mode": "ANY", "allowed_function_names": ["f"] } },
        "generation_config": { "max_output_tokens": 10, "top_k": 40.0, "response_mime_type": "application/json",
            "response_schema": { "type": "OBJECT", "properties": { "x": { "type": "NUMBER" } } },
            "thinking_config": { "thinking_budget": 0 } }
    }));
    assert_eq!(req.system, vec![Text::plain("be brief")]);
    assert_eq!(
        req.tools[0].parameters,
        json!({
            "type": "object",
            "properties": { "a": { "type": ["string", "null"] }, "b": { "type": "array", "items": { "type": "integer" } } },
            "required": ["a"]
        })
    );
    assert_eq!(req.tool_choice, Some(ToolChoice::Tool("f".into())));
    assert_eq!(req.sampling.max_tokens, Some(10));
    assert_eq!(req.sampling.top_k, Some(40));
    assert_eq!(req.reasoning, Some(Reasoning::Disabled));
    let Some(ResponseFormat::JsonSchema { schema, .. }) = &req.response_format else {
        panic!()
    };
    assert_eq!(
        schema,
        &json!({ "type": "object", "properties": { "x": { "type": "number" } } })
    );
}

#[test]
fn untranslatable_parts_and_candidate_counts_are_refused_by_field() {
    let err = decode_request(
        &serde_json::from_value(json!({
            "contents": [{ "parts": [{ "inlineData": { "mimeType": "application/pdf", "data": "AAAA" } }] }]
        }))
        .unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.field, "contents[0].parts[0].inlineData.mimeType");
    let err = decode_request(
        &serde_json::from_value(json!({
            "contents": [{ "parts": [{ "text": "x" }] }], "generationConfig": { "candidateCount": 2 }
        }))
        .unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.field, "generationConfig.candidateCount");
}

#[test]
fn usage_counts_the_cache_in_the_prompt_and_thoughts_apart() {
    let u = Usage {
        input: 70,
        cache_read: 30,
        cache_write: 0,
        output: 50,
        reasoning: 20,
    };
    let wire = encode_usage(&u);
    assert_eq!(wire.prompt_token_count, Some(100));
    assert_eq!(wire.cached_content_token_count, Some(30));
    assert_eq!(wire.candidates_token_count, Some(30));
    assert_eq!(wire.thoughts_token_count, Some(20));
    assert_eq!(wire.total_token_count, Some(150));
    assert_eq!(decode_usage(&wire), u);
}

#[test]
fn a_stream_sends_text_as_it_comes_and_a_call_whole() {
    let events = [
        StreamEvent::Start {
            id: "r1".into(),
            model: "up".into(),
        },
        StreamEvent::BlockStart {
            index: 0,
            kind: BlockKind::Text,
        },
        StreamEvent::Delta {
            index: 0,
            delta: Delta::Text("Hel".into()),
        },
        StreamEvent::Delta {
            index: 0,
            delta: Delta::Text("lo".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            kind: BlockKind::ToolUse {
                id: "call_1".into(),
                name: "f".into(),
            },
        },
        StreamEvent::Delta {
            index: 1,
            delta: Delta::ToolArguments("{\"a\":".into()),
        },
        StreamEvent::Delta {
            index: 1,
            delta: Delta::ToolArguments("1}".into()),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::Finish {
            reason: StopReason::ToolCalls,
            stop_sequence: None,
        },
        StreamEvent::Usage(Usage {
            input: 3,
            output: 4,
            ..Usage::default()
        }),
        StreamEvent::End,
    ];
    let mut enc = ChunkEncoder::new("client-model");
    let mut out = Vec::new();
    for e in &events {
        enc.push(e, &mut out);
    }
    let out: Vec<Value> = out
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    assert_eq!(out.len(), 4);
    assert_eq!(
        out[0]["candidates"][0]["content"]["parts"],
        json!([{ "text": "Hel" }])
    );
    assert_eq!(out[0]["modelVersion"], "client-model");
    assert_eq!(out[0]["responseId"], "r1");
    assert!(out[0].get("usageMetadata").is_none());
    assert_eq!(
        out[2]["candidates"][0]["content"]["parts"],
        json!([{ "functionCall": { "id": "call_1", "name": "f", "args": { "a": 1 } } }])
    );
    assert_eq!(out[3]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        out[3]["usageMetadata"],
        json!({ "promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7 })
    );
}

fn decode_chunks(chunks: &[Value]) -> Vec<StreamEvent> {
    let mut dec = ChunkDecoder::new();
    let mut out = Vec::new();
    for c in chunks {
        let chunk: GenerateContentResponse = serde_json::from_value(c.clone()).unwrap();
        dec.push(&chunk, &mut out);
    }
    dec.finish(&mut out);
    out
}

#[test]
fn a_gemini_stream_decodes_into_blocks_with_usage_and_call_ids() {
    let events = decode_chunks(&[
        json!({ "candidates": [{ "content": { "role": "model", "parts": [
            { "text": "hmm", "thought": true },
            { "text": "", "thought": true, "thoughtSignature": "sig" }
        ] } }], "responseId": "r9", "modelVersion": "gemini-x" }),
        json!({ "candidates": [{ "content": { "role": "model", "parts": [{ "text": "Hel" }] } }] }),
        json!({ "candidates": [{ "content": { "role": "model", "parts": [{ "text": "lo" }] } }] }),
        json!({ "candidates": [{ "content": { "role": "model", "parts": [
            { "functionCall": { "name": "f", "args": { "a": 1 } } }
        ] }, "finishReason": "STOP" }],
          "usageMetadata": { "promptTokenCount": 10, "cachedContentTokenCount": 4,
                             "candidatesTokenCount": 5, "thoughtsTokenCount": 2 } }),
    ]);
    assert_eq!(
        events,
        [
            StreamEvent::Start {
                id: "r9".into(),
                model: "gemini-x".into()
            },
            StreamEvent::BlockStart {
                index: 0,
                kind: BlockKind::Thinking
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Thinking("hmm".into())
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Signature("sig".into())
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                kind: BlockKind::Text
            },
            StreamEvent::Delta {
                index: 1,
                delta: Delta::Text("Hel".into())
            },
            StreamEvent::Delta {
                index: 1,
                delta: Delta::Text("lo".into())
            },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStart {
                index: 2,
                kind: BlockKind::ToolUse {
                    id: "call_0_4".into(),
                    name: "f".into()
                }
            },
            StreamEvent::Delta {
                index: 2,
                delta: Delta::ToolArguments("{\"a\":1}".into())
            },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::Finish {
                reason: StopReason::ToolCalls,
                stop_sequence: None
            },
            StreamEvent::Usage(Usage {
                input: 6,
                cache_read: 4,
                cache_write: 0,
                output: 7,
                reasoning: 2
            }),
            StreamEvent::End,
        ]
    );
}

#[test]
fn a_stream_cut_before_its_finish_still_ends_and_max_tokens_is_length() {
    let events = decode_chunks(&[]);
    assert_eq!(
        events,
        [
            StreamEvent::Start {
                id: String::new(),
                model: String::new()
            },
            StreamEvent::Finish {
                reason: StopReason::Stop,
                stop_sequence: None
            },
            StreamEvent::End
        ]
    );
    let events = decode_chunks(&[
        json!({ "candidates": [{ "content": { "parts": [{ "text": "a" }] },
                                          "finishReason": "MAX_TOKENS" }] }),
    ]);
    assert!(events.contains(&StreamEvent::Finish {
        reason: StopReason::Length,
        stop_sequence: None
    }));
    assert_eq!(events.last(), Some(&StreamEvent::End));
}

proptest! {
    /// What the encoder streams, the decoder reads back: the same text, calls and usage.
    #[test]
    fn encoded_streams_decode_to_the_same_answer(resp in response()) {
        let mut events = vec![StreamEvent::Start { id: resp.id.clone(), model: "m".into() }];
        for (index, block) in resp.content.iter().enumerate() {
            match block {
                Block::Text(t) => {
                    events.push(StreamEvent::BlockStart { index, kind: BlockKind::Text });
                    events.push(StreamEvent::Delta { index, delta: Delta::Text(t.text.clone()) });
                }
                Block::ToolUse(u) => {
                    events.push(StreamEvent::BlockStart { index, kind: BlockKind::ToolUse { id: u.id.clone(), name: u.name.clone() } });
                    events.push(StreamEvent::Delta { index, delta: Delta::ToolArguments(u.arguments.clone()) });
                }
                _ => continue,
            }
            events.push(StreamEvent::BlockStop { index });
        }
        events.push(StreamEvent::Finish { reason: resp.stop_reason.unwrap_or(StopReason::Stop), stop_sequence: None });
        events.push(StreamEvent::Usage(resp.usage));
        events.push(StreamEvent::End);
        let mut enc = ChunkEncoder::new("m");
        let mut chunks = Vec::new();
        for e in &events {
            enc.push(e, &mut chunks);
        }
        let mut dec = ChunkDecoder::new();
        let mut decoded = Vec::new();
        for c in &chunks {
            dec.push(&via_json::<_, GenerateContentResponse>(c), &mut decoded);
        }
        dec.finish(&mut decoded);
        let text = |evs: &[StreamEvent]| evs.iter().filter_map(|e| match e {
            StreamEvent::Delta { delta: Delta::Text(t), .. } => Some(t.clone()),
            _ => None,
        }).collect::<String>();
        let calls = |evs: &[StreamEvent]| evs.iter().filter_map(|e| match e {
            StreamEvent::BlockStart { kind: BlockKind::ToolUse { id, name }, .. } => Some((id.clone(), name.clone())),
            _ => None,
        }).collect::<Vec<_>>();
        prop_assert_eq!(text(&decoded), text(&events));
        prop_assert_eq!(calls(&decoded), calls(&events));
        let usage = decoded.iter().rev().find_map(|e| match e { StreamEvent::Usage(u) => Some(*u), _ => None });
        let expected = decode_usage(&encode_usage(&resp.usage));
        prop_assert_eq!(usage, Some(expected));
    }
}
