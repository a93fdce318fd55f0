//! Round trips Ollama → canonical → Ollama on what the canonical model keeps, and fixed
//! examples of the mapping.

#![expect(clippy::unwrap_used, reason = "tests")]

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::Usage;
use crate::canonical::arb::{id, word};
use crate::canonical::*;
use crate::ollama::{
    ChatRequest, ChatResponse, FunctionDef, GenerateRequest, Message as OMessage, Metrics, Options,
    Tool as OTool, ToolCall, ToolCallFunction,
};

fn arguments() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        id(),
        prop_oneof![
            word().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from)
        ],
        0..3,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn image() -> impl Strategy<Value = String> {
    prop_oneof![
        "iVBOR[A-Za-z0-9+/]{4,12}",
        "/9j/[A-Za-z0-9+/]{4,12}",
        "R0lGOD[A-Za-z0-9+/]{4,12}"
    ]
}

fn message(role: &str, content: String) -> OMessage {
    OMessage {
        role: role.into(),
        content,
        ..OMessage::default()
    }
}

/// A user turn, then an assistant turn that may call tools, then a result for each call.
fn exchange() -> impl Strategy<Value = Vec<OMessage>> {
    (
        word(),
        prop::collection::vec(image(), 0..2),
        word(),
        prop::option::of(word()),
        prop::collection::vec((id(), arguments(), word()), 0..3),
    )
        .prop_map(|(question, images, answer, thinking, calls)| {
            let mut user = message("user", question);
            user.images = images;
            let mut assistant = message("assistant", answer);
            assistant.thinking = thinking;
            assistant.tool_calls = calls
                .iter()
                .map(|(name, arguments, _)| ToolCall {
                    function: ToolCallFunction {
                        name: name.clone(),
                        arguments: arguments.clone(),
                        ..ToolCallFunction::default()
                    },
                    ..ToolCall::default()
                })
                .collect();
            let mut out = vec![user, assistant];
            for (name, _, result) in calls {
                let mut tool = message("tool", result);
                tool.tool_name = Some(name);
                out.push(tool);
            }
            out
        })
}

fn options() -> impl Strategy<Value = Option<Options>> {
    prop::option::of(
        (
            prop::option::of((0u8..20).prop_map(|t| f64::from(t) / 10.0)),
            prop::option::of(1u64..100),
            prop::option::of(1i64..4096),
            prop::collection::vec(word(), 0..2),
            prop::option::of(any::<i64>()),
        )
            .prop_map(|(temperature, top_k, num_predict, stop, seed)| Options {
                temperature,
                top_k,
                num_predict,
                stop,
                seed,
                ..Options::default()
            }),
    )
    .prop_map(|o| o.filter(|o| *o != Options::default()))
}

fn chat_request() -> impl Strategy<Value = ChatRequest> {
    (
        id(),
        prop::option::of(word()),
        prop::collection::vec(exchange(), 1..3),
        prop::collection::vec((id(), prop::option::of(word())), 0..2),
        prop_oneof![
            Just(None),
            Just(Some(json!("json"))),
            Just(Some(
                json!({"type": "object", "properties": {"a": {"type": "string"}}})
            ))
        ],
        options(),
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some(json!(false))),
            Just(Some(json!("low"))),
            Just(Some(json!("high")))
        ],
    )
        .prop_map(
            |(model, system, turns, tools, format, options, stream, think)| ChatRequest {
                model,
                messages: system
                    .map(|s| message("system", s))
                    .into_iter()
                    .chain(turns.into_iter().flatten())
                    .collect(),
                tools: tools
                    .into_iter()
                    .map(|(name, description)| OTool {
                        kind: "function".into(),
                        function: FunctionDef {
                            name,
                            description,
                            parameters: json!({"type": "object", "properties": {}}),
                        },
                    })
                    .collect(),
                format,
                options,
                stream: Some(stream),
                think,
                ..ChatRequest::default()
            },
        )
}

proptest! {
    #[test]
    fn chat_requests_round_trip(req in chat_request()) {
        let canonical = decode_chat(&req).unwrap();
        prop_assert_eq!(encode_chat(&canonical), req);
    }

    #[test]
    fn chat_requests_reach_json(req in chat_request()) {
        let text = serde_json::to_string(&req).unwrap();
        let back: ChatRequest = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, req);
    }

    #[test]
    fn answers_round_trip(
        content in word(),
        thinking in prop::option::of(word()),
        calls in prop::collection::vec((id(), arguments()), 0..3),
        length in any::<bool>(),
        input in 0u64..100_000,
        output in 0u64..100_000,
    ) {
        let resp = ChatResponse {
            model: "m".into(),
            created_at: "2026-01-01T00:00:00.000000Z".into(),
            message: OMessage {
                role: "assistant".into(),
                content,
                thinking,
                tool_calls: calls.into_iter().map(|(name, arguments)| ToolCall {
                    function: ToolCallFunction { name, arguments, ..ToolCallFunction::default() },
                    ..ToolCall::default()
                }).collect(),
                ..OMessage::default()
            },
            done: true,
            done_reason: Some(if length { "length" } else { "stop" }.into()),
            metrics: Metrics {
                prompt_eval_count: Some(input),
                eval_count: Some(output),
                ..Metrics::default()
            },
        };
        let canonical = decode_response(&resp);
        prop_assert_eq!(encode_response(&canonical, &resp.created_at), resp);
    }
}

#[test]
fn tool_results_answer_the_call_of_the_same_name() {
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": "weather and time?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_time", "arguments": {}}}
            ]},
            {"role": "tool", "tool_name": "get_time", "content": "noon"},
            {"role": "tool", "content": "sunny"}
        ]
    }))
    .unwrap();
    let c = decode_chat(&req).unwrap();
    let Block::ToolUse(weather) = &c.messages[1].content[0] else {
        panic!("{:?}", c.messages[1]);
    };
    assert_eq!(weather.id, "call_1_0_get_weather");
    assert_eq!(weather.arguments, r#"{"city":"Paris"}"#);
    let result = |m: &Message| match &m.content[0] {
        Block::ToolResult(r) => r.tool_use_id.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(result(&c.messages[2]), "call_1_1_get_time");
    // Without a name: the next unanswered call.
    assert_eq!(result(&c.messages[3]), "call_1_0_get_weather");
    assert!(c.stream, "Ollama streams by default");
}

#[test]
fn an_orphan_tool_result_is_refused() {
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_name": "x", "content": "1"}]
    }))
    .unwrap();
    let err = decode_chat(&req).unwrap_err();
    assert_eq!(err.field, "messages[1]");
}

#[test]
fn options_map_to_sampling() {
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "options": {"num_predict": -1, "num_ctx": 8192, "temperature": 0.5, "stop": ["x"]},
        "think": "high",
        "format": "json",
        "keep_alive": "5m"
    }))
    .unwrap();
    let c = decode_chat(&req).unwrap();
    assert_eq!(c.sampling.max_tokens, None, "-1 is no limit");
    assert_eq!(c.sampling.temperature, Some(0.5));
    assert_eq!(c.sampling.stop, vec!["x".to_owned()]);
    assert_eq!(c.reasoning, Some(Reasoning::Effort("high".into())));
    assert_eq!(c.response_format, Some(ResponseFormat::JsonObject));
    assert_eq!(
        c.passthrough.for_dialect(crate::Dialect::Ollama).unwrap()["options"],
        json!({"num_ctx": 8192})
    );
    let bad: ChatRequest = serde_json::from_value(json!({
        "model": "m", "messages": [], "think": "extreme"
    }))
    .unwrap();
    assert_eq!(decode_chat(&bad).unwrap_err().field, "think");
}

#[test]
fn generate_is_a_system_prompt_and_one_user_turn() {
    let req: GenerateRequest = serde_json::from_value(json!({
        "model": "m", "prompt": "why?", "system": "be brief", "images": ["/9j/abcd"],
        "raw": true, "stream": false
    }))
    .unwrap();
    let c = decode_generate(&req).unwrap();
    assert!(is_generate(&c));
    assert!(!c.stream);
    assert_eq!(c.system, vec![Text::plain("be brief")]);
    assert_eq!(c.messages.len(), 1);
    assert!(matches!(
        &c.messages[0].content[1],
        Block::Image(Image { source: ImageSource::Base64 { media_type, .. }, .. }) if media_type == "image/jpeg"
    ));
    assert!(!is_generate(&decode_chat(&ChatRequest::default()).unwrap()));
}

#[test]
fn a_stream_ends_with_the_counts() {
    let mut enc = ChunkEncoder::new("m", "t");
    let mut out = Vec::new();
    for e in [
        StreamEvent::Start {
            id: "x".into(),
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
                id: "c".into(),
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
            input: 7,
            cache_read: 3,
            output: 5,
            ..Usage::default()
        }),
        StreamEvent::End,
    ] {
        enc.push(&e, &mut out);
    }
    let lines: Vec<Value> = out
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0]["message"]["content"], "Hel");
    assert_eq!(lines[0]["done"], false);
    assert_eq!(
        lines[2]["message"]["tool_calls"][0]["function"]["arguments"],
        json!({"a": 1})
    );
    assert_eq!(lines[3]["done"], true);
    assert_eq!(lines[3]["done_reason"], "stop");
    assert_eq!(lines[3]["prompt_eval_count"], 10, "cached tokens included");
    assert_eq!(lines[3]["eval_count"], 5);
}

#[test]
fn times_are_rfc3339() {
    assert_eq!(
        rfc3339(std::time::Duration::from_millis(1_700_000_000_123)),
        "2023-11-14T22:13:20.123000Z"
    );
    assert_eq!(
        rfc3339(std::time::Duration::ZERO),
        "1970-01-01T00:00:00.000000Z"
    );
}

proptest! {
    /// The lines of a stream add up to the whole answer: the same text, thinking, tool calls,
    /// stop reason and counts.
    #[test]
    fn stream_lines_add_up_to_the_answer(
        events in crate::canonical::arb::stream(
            true,
            false,
            prop_oneof![Just(StopReason::Stop), Just(StopReason::Length), Just(StopReason::ToolCalls)],
            crate::canonical::arb::usage(true, true),
        )
    ) {
        let mut enc = ChunkEncoder::new("m", "t");
        let mut lines = Vec::new();
        for e in &events {
            enc.push(e, &mut lines);
        }
        let (last, deltas) = lines.split_last().unwrap();
        prop_assert!(last.done);
        prop_assert!(deltas.iter().all(|l| !l.done));
        let mut folded = last.clone();
        for l in deltas {
            folded.message.content.push_str(&l.message.content);
            if let Some(t) = &l.message.thinking {
                folded.message.thinking.get_or_insert_default().push_str(t);
            }
            folded.message.tool_calls.extend(l.message.tool_calls.iter().cloned());
        }
        let mut whole = crate::canonical::arb::assemble(&events);
        whole.model = "m".into();
        prop_assert_eq!(folded, encode_response(&whole, "t"));
    }
}

fn decode_lines(lines: &[Value]) -> Vec<StreamEvent> {
    let mut dec = ChunkDecoder::new();
    let mut out = Vec::new();
    for l in lines {
        let chunk: crate::ollama::ChatResponse = serde_json::from_value(l.clone()).unwrap();
        dec.push(&chunk, &mut out);
    }
    dec.finish(&mut out);
    out
}

#[test]
fn an_ollama_stream_decodes_into_blocks_calls_and_usage() {
    let line = |message: Value, done: bool| json!({ "model": "llama3", "created_at": "2026-01-01T00:00:00Z", "message": message, "done": done });
    let mut last = line(json!({ "role": "assistant", "content": "" }), true);
    last["done_reason"] = json!("stop");
    last["prompt_eval_count"] = json!(12);
    last["eval_count"] = json!(7);
    let events = decode_lines(&[
        line(
            json!({ "role": "assistant", "content": "", "thinking": "hm" }),
            false,
        ),
        line(json!({ "role": "assistant", "content": "Hel" }), false),
        line(json!({ "role": "assistant", "content": "lo" }), false),
        line(
            json!({ "role": "assistant", "content": "", "tool_calls": [
                { "function": { "name": "get weather", "arguments": { "city": "Paris" } } }
            ] }),
            false,
        ),
        last,
    ]);
    assert_eq!(
        events,
        [
            StreamEvent::Start {
                id: String::new(),
                model: "llama3".into()
            },
            StreamEvent::BlockStart {
                index: 0,
                kind: BlockKind::Thinking
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Thinking("hm".into())
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
                    id: "call_0_0_get_weather".into(),
                    name: "get weather".into()
                }
            },
            StreamEvent::Delta {
                index: 2,
                delta: Delta::ToolArguments("{\"city\":\"Paris\"}".into())
            },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::Finish {
                reason: StopReason::ToolCalls,
                stop_sequence: None
            },
            StreamEvent::Usage(Usage {
                input: 12,
                output: 7,
                ..Usage::default()
            }),
            StreamEvent::End,
        ]
    );
}

#[test]
fn an_ollama_stream_cut_short_still_ends() {
    let events = decode_lines(&[json!({ "model": "m", "created_at": "", "done": false,
        "message": { "role": "assistant", "content": "a" } })]);
    assert_eq!(
        &events[events.len() - 3..],
        [
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::Finish {
                reason: StopReason::Stop,
                stop_sequence: None
            },
            StreamEvent::End
        ]
    );
    let mut last = json!({ "model": "m", "created_at": "", "done": true, "done_reason": "length",
        "message": { "role": "assistant", "content": "" } });
    last["eval_count"] = json!(3);
    let events = decode_lines(&[last]);
    assert!(events.contains(&StreamEvent::Finish {
        reason: StopReason::Length,
        stop_sequence: None
    }));
}

/// A whole answer as Ollama can carry it: one thinking text (no signature), one text, tool
/// calls with the ids the decoder gives them, prompt and output counts only.
fn response() -> impl Strategy<Value = Response> {
    (
        id(),
        prop::option::of(word()),
        prop::option::of(word()),
        prop::collection::vec((id(), crate::canonical::arb::arguments()), 0..3),
        prop_oneof![Just(StopReason::Stop), Just(StopReason::Length)],
        (0u64..100_000, 0u64..10_000),
    )
        .prop_map(|(model, thinking, text, calls, stop, (input, output))| {
            let mut content = Vec::new();
            if let Some(text) = thinking {
                content.push(Block::Thinking(Thinking {
                    text,
                    signature: None,
                }));
            }
            if let Some(text) = text {
                content.push(Block::Text(Text::plain(text)));
            }
            for (i, (name, arguments)) in calls.iter().enumerate() {
                content.push(Block::ToolUse(ToolUse {
                    id: tool_call_id(0, i, name),
                    name: name.clone(),
                    arguments: arguments.clone(),
                    cache_control: None,
                }));
            }
            let stop = match stop {
                StopReason::Stop if !calls.is_empty() => StopReason::ToolCalls,
                other => other,
            };
            Response {
                id: String::new(),
                model,
                content,
                stop_reason: Some(stop),
                stop_sequence: None,
                usage: Usage {
                    input,
                    output,
                    ..Usage::default()
                },
            }
        })
}

proptest! {
    #[test]
    fn responses_round_trip(resp in response()) {
        let wire: ChatResponse =
            serde_json::from_value(serde_json::to_value(encode_response(&resp, "t")).unwrap())
                .unwrap();
        prop_assert_eq!(decode_response(&wire), resp);
    }
}
