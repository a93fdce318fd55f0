//! Round trips canonical → Responses → JSON → Responses → canonical on what the Responses
//! API can represent, the stream encoder checked against the whole-response encoder, and
//! fixed examples of the mapping.

#![expect(clippy::unwrap_used, reason = "tests")]

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::canonical::arb::{self, word};
use crate::canonical::*;
use crate::responses::{Event, EventKind, ResponseObject, ResponsesRequest};

fn user_message() -> impl Strategy<Value = Message> {
    let content = prop::collection::vec(
        prop_oneof![
            word().prop_map(|t| Block::Text(Text::plain(t))),
            arb::image().prop_map(Block::Image),
        ],
        1..4,
    );
    let result = (
        arb::id(),
        prop::collection::vec(
            prop_oneof![
                word().prop_map(|t| ToolResultContent::Text(Text::plain(t))),
                arb::image().prop_map(ToolResultContent::Image),
            ],
            0..3,
        ),
    )
        .prop_map(|(tool_use_id, content)| {
            Block::ToolResult(ToolResult {
                tool_use_id,
                content,
                is_error: false,
                cache_control: None,
            })
        });
    prop_oneof![content, prop::collection::vec(result, 1..3)].prop_map(|content| Message {
        role: Role::User,
        content,
    })
}

fn assistant_message() -> impl Strategy<Value = Message> {
    let block = prop_oneof![
        word().prop_map(|t| Block::Text(Text::plain(t))),
        (word(), prop::option::of(arb::id()))
            .prop_map(|(text, signature)| Block::Thinking(Thinking { text, signature })),
        arb::id().prop_map(|data| Block::RedactedThinking { data }),
        arb::tool_use().prop_map(Block::ToolUse),
    ];
    prop::collection::vec(block, 1..4).prop_map(|content| Message {
        role: Role::Assistant,
        content,
    })
}

fn response_format() -> impl Strategy<Value = ResponseFormat> {
    prop_oneof![
        Just(ResponseFormat::Text),
        Just(ResponseFormat::JsonObject),
        (
            arb::id(),
            prop::option::of(word()),
            arb::schema(),
            prop::option::of(any::<bool>())
        )
            .prop_map(|(name, description, schema, strict)| {
                ResponseFormat::JsonSchema {
                    name,
                    description,
                    schema,
                    strict,
                }
            }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let turns = (1usize..7, user_message(), assistant_message()).prop_flat_map(|(n, _, _)| {
        prop::collection::vec((user_message(), assistant_message()), n.div_ceil(2))
    });
    let sampling = (
        prop::option::of(1u64..100_000),
        prop::option::of(prop_oneof![Just(0.0), Just(0.7), Just(1.0)]),
        prop::option::of(Just(0.9)),
    )
        .prop_map(|(max_tokens, temperature, top_p)| Sampling {
            max_tokens,
            temperature,
            top_p,
            ..Sampling::default()
        });
    let passthrough = prop_oneof![
        Just(Map::new()),
        Just(
            json!({"store": false, "metadata": {"k": "v"}, "truncation": "auto"})
                .as_object()
                .unwrap()
                .clone()
        ),
    ];
    (
        (
            arb::id(),
            prop::option::of(word()),
            turns,
            prop::collection::vec(arb::tool(), 0..3),
            prop::option::of(arb::tool_choice()),
            prop::option::of(any::<bool>()),
        ),
        (
            prop::option::of(response_format()),
            prop::option::of(prop_oneof![Just("low"), Just("medium"), Just("high")]),
            sampling,
            any::<bool>(),
            prop::option::of(arb::id()),
            passthrough,
        ),
    )
        .prop_map(
            |(
                (model, system, turns, tools, tool_choice, parallel_tool_calls),
                (response_format, effort, sampling, stream, user, fields),
            )| Request {
                model,
                system: system.into_iter().map(Text::plain).collect(),
                messages: turns.into_iter().flat_map(|(u, a)| [u, a]).collect(),
                tools,
                tool_choice,
                parallel_tool_calls,
                response_format,
                reasoning: effort.map(|e| Reasoning::Effort(e.into())),
                sampling,
                stream,
                user,
                passthrough: Passthrough::from(crate::Dialect::Responses, fields),
            },
        )
}

fn response() -> impl Strategy<Value = Response> {
    let block = prop_oneof![
        word().prop_map(|t| Block::Text(Text::plain(t))),
        (word(), prop::option::of(arb::id()))
            .prop_map(|(text, signature)| Block::Thinking(Thinking { text, signature })),
        arb::id().prop_map(|data| Block::RedactedThinking { data }),
        arb::tool_use().prop_map(Block::ToolUse),
    ];
    (
        arb::id(),
        arb::id(),
        prop::collection::vec(block, 0..5),
        prop_oneof![
            Just(None),
            Just(Some(StopReason::Length)),
            Just(Some(StopReason::ContentFilter))
        ],
        arb::usage(false, true),
    )
        .prop_map(|(id, model, content, cut, usage)| {
            let tools = content.iter().any(|b| matches!(b, Block::ToolUse(_)));
            let reason = cut.unwrap_or(if tools {
                StopReason::ToolCalls
            } else {
                StopReason::Stop
            });
            Response {
                id: format!("resp_{id}"),
                model,
                content,
                stop_reason: Some(reason),
                stop_sequence: None,
                usage,
            }
        })
}

fn via_json<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

/// The whole response a canonical stream describes.
fn collect(events: &[StreamEvent]) -> Response {
    let mut resp = Response::default();
    for e in events {
        match e {
            StreamEvent::Start { id, model } => {
                resp.id.clone_from(id);
                resp.model.clone_from(model);
            }
            StreamEvent::BlockStart { kind, .. } => resp.content.push(match kind {
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
            }),
            StreamEvent::Delta { index, delta } => match (&mut resp.content[*index], delta) {
                (Block::Text(t), Delta::Text(d)) => t.text.push_str(d),
                (Block::Thinking(t), Delta::Thinking(d)) => t.text.push_str(d),
                (Block::Thinking(t), Delta::Signature(d)) => t.signature = Some(d.clone()),
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

proptest! {
    #[test]
    fn requests_round_trip(req in request()) {
        let wire: ResponsesRequest = via_json(&encode_request(&req));
        prop_assert_eq!(decode_request(&wire).unwrap(), req);
    }

    #[test]
    fn responses_round_trip(resp in response()) {
        let base = ResponseObject::new(resp.id.clone(), "ignored", 1);
        let wire: ResponseObject = via_json(&encode_response(&resp, base));
        prop_assert_eq!(decode_response(&wire), resp);
    }

    #[test]
    fn a_stream_ends_with_the_response_the_whole_encoder_makes(events in arb::stream(
        true,
        true,
        prop_oneof![Just(StopReason::Stop), Just(StopReason::Length), Just(StopReason::ToolCalls)],
        arb::usage(false, true),
    )) {
        let mut canonical = collect(&events);
        canonical.id = "resp_abc".into();
        let base = ResponseObject::new("resp_abc", canonical.model.clone(), 7);
        let mut encoder = EventEncoder::new(base.clone());
        let mut out = Vec::new();
        for e in &events {
            encoder.push(e, &mut out);
        }
        let out: Vec<Event> = out.iter().map(via_json).collect();
        for (i, e) in out.iter().enumerate() {
            prop_assert_eq!(e.sequence_number, i as u64);
        }
        prop_assert_eq!(out[0].kind.name(), "response.created");
        prop_assert_eq!(out[1].kind.name(), "response.in_progress");
        let last = match &out.last().unwrap().kind {
            EventKind::Completed { response } | EventKind::Incomplete { response } => response,
            other => panic!("ends with {other:?}"),
        };
        prop_assert_eq!(&**last, &encode_response(&canonical, base));
    }
}

#[test]
fn usage_maps_exactly() {
    let usage = Usage {
        input: 10,
        cache_read: 30,
        cache_write: 5,
        output: 20,
        reasoning: 8,
    };
    let wire = serde_json::to_value(encode_usage(&usage)).unwrap();
    assert_eq!(
        wire,
        json!({
            "input_tokens": 45, "input_tokens_details": {"cached_tokens": 30},
            "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 8},
            "total_tokens": 65
        })
    );
    let back = decode_usage(&serde_json::from_value(wire).unwrap());
    assert_eq!(
        (back.input, back.cache_read, back.output, back.reasoning),
        (15, 30, 20, 8)
    );
}

#[test]
fn items_become_turns() {
    let req: ResponsesRequest = serde_json::from_value(json!({
        "model": "m",
        "instructions": "be brief",
        "input": [
            {"role": "developer", "content": "use tools"},
            {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}], "encrypted_content": "enc"},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get", "arguments": "{}"},
            {"type": "function_call", "call_id": "call_2", "name": "get", "arguments": "{\"a\":1}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            {"type": "function_call_output", "call_id": "call_2", "output": "rain"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok", "annotations": []}]}
        ],
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}},
        "reasoning": {"effort": "high"},
        "max_output_tokens": 99,
        "store": true,
        "include": ["reasoning.encrypted_content"]
    }))
    .unwrap();
    let c = decode_request(&req).unwrap();
    assert_eq!(c.system, vec![Text::plain("be brief")]);
    let roles: Vec<Role> = c.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::System,
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant
        ]
    );
    assert_eq!(
        c.messages[2].content.len(),
        3,
        "reasoning and both calls, one turn"
    );
    assert!(
        matches!(&c.messages[2].content[0], Block::Thinking(t) if t.signature.as_deref() == Some("enc"))
    );
    assert!(matches!(&c.messages[3].content[1], Block::ToolResult(r) if r.tool_use_id == "call_2"));
    assert_eq!(c.reasoning, Some(Reasoning::Effort("high".into())));
    assert_eq!(c.sampling.max_tokens, Some(99));
    assert!(
        matches!(c.response_format, Some(ResponseFormat::JsonSchema { ref name, .. }) if name == "out")
    );
    let kept = c
        .passthrough
        .for_dialect(crate::Dialect::Responses)
        .unwrap();
    assert_eq!(kept["store"], true);
    assert!(kept.contains_key("include"));
}

#[test]
fn untranslatable_tools_items_and_parts_name_the_field() {
    let decode = |v: Value| decode_request(&serde_json::from_value(v).unwrap()).unwrap_err();
    let e = decode(json!({"model": "m", "input": "hi", "tools": [
        {"type": "function", "name": "f", "parameters": {}},
        {"type": "custom", "name": "apply_patch", "format": {"type": "text"}}
    ]}));
    assert_eq!(e.field, "tools[1].type");
    assert!(
        e.message.contains("'custom' ('apply_patch')"),
        "{}",
        e.message
    );
    let e = decode(json!({"model": "m", "input": "hi", "tools": [
        {"type": "namespace", "name": "ns", "tools": [{"type": "file_search"}]}
    ]}));
    assert_eq!(e.field, "tools[0].tools[0].type");
    let e = decode(json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}));
    assert_eq!(e.field, "input[0].type");
    let e = decode(
        json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}),
    );
    assert_eq!(e.field, "input[0].content[0].type");
    let e = decode(json!({"model": "m", "input": "x", "tool_choice": {"type": "file_search"}}));
    assert_eq!(e.field, "tool_choice");
}

#[test]
fn events_carry_their_type_and_sequence_number() {
    let mut encoder = EventEncoder::new(ResponseObject::new("resp_1", "m", 1));
    let mut out = Vec::new();
    for e in [
        StreamEvent::Start {
            id: "x".into(),
            model: "m".into(),
        },
        StreamEvent::BlockStart {
            index: 0,
            kind: BlockKind::Text,
        },
        StreamEvent::Delta {
            index: 0,
            delta: Delta::Text("hi".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::Finish {
            reason: StopReason::Length,
            stop_sequence: None,
        },
        StreamEvent::End,
    ] {
        encoder.push(&e, &mut out);
    }
    let names: Vec<&str> = out.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.incomplete",
        ]
    );
    let delta = serde_json::to_value(&out[4]).unwrap();
    assert_eq!(
        delta,
        json!({"type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_1_0",
               "output_index": 0, "content_index": 0, "delta": "hi", "logprobs": []})
    );
    let last = serde_json::to_value(&out[8]).unwrap();
    assert_eq!(last["response"]["status"], "incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(last["response"]["output"][0]["content"][0]["text"], "hi");
    assert_eq!(
        last["response"]["output"][0]["content"][0]["annotations"],
        json!([])
    );
}

#[test]
fn a_failure_ends_with_response_failed_and_error() {
    let mut encoder = EventEncoder::new(ResponseObject::new("resp_1", "m", 1));
    let mut out = Vec::new();
    encoder.push(
        &StreamEvent::Start {
            id: "x".into(),
            model: "m".into(),
        },
        &mut out,
    );
    encoder.push(
        &StreamEvent::BlockStart {
            index: 0,
            kind: BlockKind::Text,
        },
        &mut out,
    );
    encoder.push(
        &StreamEvent::Delta {
            index: 0,
            delta: Delta::Text("hi".into()),
        },
        &mut out,
    );
    encoder.fail(
        Some("upstream_error".into()),
        "the provider went away".into(),
        &mut out,
    );
    let failed = serde_json::to_value(&out[5]).unwrap();
    assert_eq!(failed["type"], "response.failed");
    assert_eq!(failed["sequence_number"], 5);
    assert_eq!(failed["response"]["status"], "failed");
    assert_eq!(
        failed["response"]["error"],
        json!({"code": "upstream_error", "message": "the provider went away"})
    );
    assert_eq!(failed["response"]["output"][0]["content"][0]["text"], "hi");
    let error = serde_json::to_value(&out[6]).unwrap();
    assert_eq!(
        error,
        json!({"type": "error", "sequence_number": 6, "code": "upstream_error",
               "message": "the provider went away", "param": null,
               "error": {"type": "server_error", "code": "upstream_error", "message": "the provider went away"}})
    );
}

#[test]
fn an_item_that_does_not_parse_is_named() {
    let e = serde_json::from_value::<ResponsesRequest>(json!({"model": "m", "input": [
        {"role": "user", "content": "hi"},
        {"type": "function_call", "name": "f", "arguments": "{}"}
    ]}))
    .unwrap_err()
    .to_string();
    assert!(e.contains("input[1]") && e.contains("call_id"), "{e}");
    let e = serde_json::from_value::<ResponsesRequest>(json!({"model": "m", "input": 3}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("a string or a list of items"), "{e}");
}

proptest! {
    /// What the encoder streams, the decoder reads back: text, thinking, calls, usage, stop.
    #[test]
    fn encoded_event_streams_decode_to_the_same_events(resp in response_for_stream()) {
        let mut events = vec![StreamEvent::Start { id: "resp_1".into(), model: "m".into() }];
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
        let calls = resp.content.iter().any(|b| matches!(b, Block::ToolUse(_)));
        let reason = if calls { StopReason::ToolCalls } else { StopReason::Stop };
        events.push(StreamEvent::Finish { reason, stop_sequence: None });
        events.push(StreamEvent::Usage(resp.usage));
        events.push(StreamEvent::End);

        let mut enc = EventEncoder::new(ResponseObject::new("resp_1", "m", 0));
        let mut wire_events = Vec::new();
        for e in &events {
            enc.push(e, &mut wire_events);
        }
        let mut dec = EventDecoder::new();
        let mut decoded = Vec::new();
        for e in &wire_events {
            let e: Event = serde_json::from_value(serde_json::to_value(e).unwrap()).unwrap();
            dec.push(&e.kind, &mut decoded).unwrap();
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
        let args = |evs: &[StreamEvent]| evs.iter().filter_map(|e| match e {
            StreamEvent::Delta { delta: Delta::ToolArguments(a), .. } => Some(a.clone()),
            _ => None,
        }).collect::<String>();
        prop_assert_eq!(text(&decoded), text(&events));
        prop_assert_eq!(calls(&decoded), calls(&events));
        prop_assert_eq!(args(&decoded), args(&events));
        let finish = StreamEvent::Finish { reason, stop_sequence: None };
        prop_assert!(decoded.contains(&finish), "no {:?}", finish);
        let usage = decoded.iter().find_map(|e| match e { StreamEvent::Usage(u) => Some(*u), _ => None });
        prop_assert_eq!(usage, Some(decode_usage(&encode_usage(&resp.usage))));
        prop_assert_eq!(decoded.last(), Some(&StreamEvent::End));
    }
}

fn response_for_stream() -> impl Strategy<Value = Response> {
    let block = prop_oneof![
        word().prop_map(|t| Block::Text(Text::plain(t))),
        arb::tool_use().prop_map(Block::ToolUse),
    ];
    (prop::collection::vec(block, 0..4), arb::usage(false, true)).prop_map(|(content, usage)| {
        Response {
            id: "resp_1".into(),
            model: "m".into(),
            content,
            stop_reason: None,
            stop_sequence: None,
            usage,
        }
    })
}

#[test]
fn failures_in_a_responses_stream_are_errors() {
    let mut dec = EventDecoder::new();
    let mut out = Vec::new();
    let failed: Event = serde_json::from_value(json!({
        "type": "error", "sequence_number": 3, "code": "rate_limit_exceeded", "message": "slow down"
    }))
    .unwrap();
    assert_eq!(
        dec.push(&failed.kind, &mut out),
        Err(StreamFailure {
            code: Some("rate_limit_exceeded".into()),
            message: "slow down".into()
        })
    );
    let mut reasoning_then_cut = EventDecoder::new();
    let added: Event = serde_json::from_value(json!({
        "type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
        "item": { "type": "reasoning", "id": "rs_1", "summary": [] }
    }))
    .unwrap();
    let delta: Event = serde_json::from_value(json!({
        "type": "response.reasoning_summary_text.delta", "sequence_number": 2, "item_id": "rs_1",
        "output_index": 0, "summary_index": 0, "delta": "hmm"
    }))
    .unwrap();
    let mut out = Vec::new();
    reasoning_then_cut.push(&added.kind, &mut out).unwrap();
    reasoning_then_cut.push(&delta.kind, &mut out).unwrap();
    reasoning_then_cut.finish(&mut out);
    assert_eq!(
        out,
        [
            StreamEvent::Start {
                id: String::new(),
                model: String::new()
            },
            StreamEvent::BlockStart {
                index: 0,
                kind: BlockKind::Thinking
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Thinking("hmm".into())
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::Finish {
                reason: StopReason::Stop,
                stop_sequence: None
            },
            StreamEvent::End
        ]
    );
}

/// The Codex CLI sends `namespace` tools and hosted web search with every request: the
/// namespace's functions reach the provider flattened, web search is left out, and a call of
/// a namespaced function goes back to the client with its namespace, streamed or not.
#[test]
fn namespace_tools_flatten_and_calls_name_their_namespace() {
    let req: ResponsesRequest = serde_json::from_value(json!({
        "model": "m",
        "input": [
            {"role": "user", "content": "spawn"},
            {"type": "function_call", "call_id": "c0", "namespace": "agents", "name": "spawn",
             "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c0", "output": "ok"}
        ],
        "tools": [
            {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
            {"type": "namespace", "name": "agents", "description": "Sub-agents.", "tools": [
                {"type": "function", "name": "spawn", "parameters": {"type": "object"}},
                {"type": "function", "name": "close"}
            ]},
            {"type": "web_search", "external_web_access": false}
        ]
    }))
    .unwrap();
    let c = decode_request(&req).unwrap();
    let names: Vec<_> = c.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["exec_command", "agents__spawn", "agents__close"]);
    let Block::ToolUse(call) = &c.messages[1].content[0] else {
        panic!("{:?}", c.messages[1]);
    };
    assert_eq!(call.name, "agents__spawn");

    // Encoded for a Responses upstream, the namespace is whole again.
    let back = serde_json::to_value(encode_request(&c)).unwrap();
    assert_eq!(back["tools"][1]["type"], "namespace");
    assert_eq!(back["tools"][1]["description"], "Sub-agents.");
    assert_eq!(back["tools"][1]["tools"][1]["name"], "close");
    assert_eq!(back["tools"].as_array().unwrap().len(), 2);
    assert_eq!(back["input"][1]["namespace"], "agents");
    assert_eq!(back["input"][1]["name"], "spawn");

    // The model calls the flattened name; the client sees namespace and function.
    let base = base_response(&c, "resp_1", 0);
    let resp = Response {
        content: vec![
            Block::ToolUse(ToolUse {
                id: "c1".into(),
                name: "agents__close".into(),
                arguments: "{}".into(),
                cache_control: None,
            }),
            Block::ToolUse(ToolUse {
                id: "c2".into(),
                name: "exec_command".into(),
                arguments: "{}".into(),
                cache_control: None,
            }),
        ],
        stop_reason: Some(StopReason::ToolCalls),
        ..Response::default()
    };
    let whole = serde_json::to_value(encode_response(&resp, base.clone())).unwrap();
    assert_eq!(whole["output"][0]["namespace"], "agents");
    assert_eq!(whole["output"][0]["name"], "close");
    assert!(whole["output"][1].get("namespace").is_none());
    assert_eq!(whole["output"][1]["name"], "exec_command");

    let mut encoder = EventEncoder::new(base);
    let mut events = Vec::new();
    let stream = [
        StreamEvent::Start {
            id: "x".into(),
            model: "m".into(),
        },
        StreamEvent::BlockStart {
            index: 0,
            kind: BlockKind::ToolUse {
                id: "c1".into(),
                name: "agents__close".into(),
            },
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::End,
    ];
    for e in &stream {
        encoder.push(e, &mut events);
    }
    let added: Vec<Value> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::OutputItemAdded { item, .. } => Some(serde_json::to_value(item).unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(added[0]["namespace"], "agents");
    assert_eq!(added[0]["name"], "close");
}
