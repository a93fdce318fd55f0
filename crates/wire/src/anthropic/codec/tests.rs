//! Round trips canonical → Anthropic → canonical on what the Messages API can represent, and
//! fixed examples of the mapping.

#![expect(clippy::unwrap_used, reason = "tests")]

use proptest::prelude::*;
use serde_json::{Map, json};

use super::*;
use crate::Dialect;
use crate::anthropic::{MessagesRequest, MessagesResponse, StreamEvent as WireEvent};
use crate::canonical::arb::{self, word};
use crate::canonical::*;

fn cache() -> impl Strategy<Value = Option<serde_json::Value>> {
    prop::option::of(Just(json!({"type": "ephemeral"})))
}

fn text() -> impl Strategy<Value = Text> {
    (word(), cache()).prop_map(|(text, cache_control)| Text {
        text,
        cache_control,
    })
}

fn image() -> impl Strategy<Value = Image> {
    (arb::image(), cache()).prop_map(|(mut i, c)| {
        i.cache_control = c;
        i
    })
}

fn user_message() -> impl Strategy<Value = Message> {
    let result = (
        arb::id(),
        prop::collection::vec(
            prop_oneof![
                text().prop_map(ToolResultContent::Text),
                image().prop_map(ToolResultContent::Image)
            ],
            0..3,
        ),
        any::<bool>(),
        cache(),
    )
        .prop_map(|(tool_use_id, content, is_error, cache_control)| {
            Block::ToolResult(ToolResult {
                tool_use_id,
                content,
                is_error,
                cache_control,
            })
        });
    let block = prop_oneof![
        text().prop_map(Block::Text),
        image().prop_map(Block::Image),
        result,
    ];
    prop::collection::vec(block, 1..4).prop_map(|content| Message {
        role: Role::User,
        content,
    })
}

fn assistant_message() -> impl Strategy<Value = Message> {
    let block = prop_oneof![
        text().prop_map(Block::Text),
        (word(), arb::id()).prop_map(|(text, s)| Block::Thinking(Thinking {
            text,
            signature: Some(s)
        })),
        arb::id().prop_map(|data| Block::RedactedThinking { data }),
        (arb::tool_use(), cache()).prop_map(|(mut u, c)| {
            u.cache_control = c;
            Block::ToolUse(u)
        }),
    ];
    prop::collection::vec(block, 1..4).prop_map(|content| Message {
        role: Role::Assistant,
        content,
    })
}

fn request() -> impl Strategy<Value = Request> {
    let sampling = (
        1u64..100_000,
        prop::option::of(prop_oneof![Just(0.0), Just(0.7), Just(1.0)]),
        prop::option::of(Just(0.9)),
        prop::option::of(1u64..100),
        prop::collection::vec(word(), 0..3),
    )
        .prop_map(|(max_tokens, temperature, top_p, top_k, stop)| Sampling {
            max_tokens: Some(max_tokens),
            temperature,
            top_p,
            top_k,
            stop,
            ..Sampling::default()
        });
    let choice =
        (prop::option::of(arb::tool_choice()), any::<bool>()).prop_map(|(c, serial)| match c {
            Some(ToolChoice::None) | None => (c, None),
            Some(c) => (Some(c), serial.then_some(false)),
        });
    let passthrough = prop_oneof![
        Just(Map::new()),
        Just(
            json!({"service_tier": "auto", "context_management": {"edits": []}})
                .as_object()
                .unwrap()
                .clone()
        ),
    ];
    (
        (
            arb::id(),
            prop::collection::vec(text(), 0..3),
            1usize..6,
            user_message(),
            assistant_message(),
        ),
        (prop::collection::vec((arb::tool(), cache()), 0..3), choice),
        (
            prop::option::of(prop_oneof![
                Just(Reasoning::Disabled),
                (1024u64..32000).prop_map(Reasoning::Budget)
            ]),
            sampling,
            any::<bool>(),
            prop::option::of(arb::id()),
            passthrough,
        ),
    )
        .prop_map(
            |(
                (model, system, turns, user, assistant),
                (tools, (tool_choice, parallel)),
                (reasoning, sampling, stream, user_id, rest),
            )| {
                // Roles alternate, starting with the user.
                let messages = (0..turns)
                    .map(|i| {
                        if i % 2 == 0 {
                            user.clone()
                        } else {
                            assistant.clone()
                        }
                    })
                    .collect();
                Request {
                    model,
                    system,
                    messages,
                    tools: tools
                        .into_iter()
                        .map(|(mut t, c)| {
                            t.cache_control = c;
                            t
                        })
                        .collect(),
                    tool_choice,
                    parallel_tool_calls: parallel,
                    response_format: None,
                    reasoning,
                    sampling,
                    stream,
                    user: user_id,
                    passthrough: Passthrough::from(Dialect::Anthropic, rest),
                }
            },
        )
}

fn response() -> impl Strategy<Value = Response> {
    let block = prop_oneof![
        word().prop_map(|t| Block::Text(Text::plain(t))),
        (word(), arb::id()).prop_map(|(text, s)| Block::Thinking(Thinking {
            text,
            signature: Some(s)
        })),
        arb::id().prop_map(|data| Block::RedactedThinking { data }),
        arb::tool_use().prop_map(Block::ToolUse),
    ];
    (
        arb::id().prop_map(|i| format!("msg_{i}")),
        arb::id(),
        prop::collection::vec(block, 0..4),
        prop::option::of(prop_oneof![
            Just(StopReason::Stop),
            Just(StopReason::Length),
            Just(StopReason::ToolCalls),
            Just(StopReason::Refusal),
            Just(StopReason::PauseTurn)
        ]),
        prop::option::of(word()),
        arb::usage(true, false),
    )
        .prop_map(|(id, model, content, stop_reason, seq, usage)| Response {
            id,
            model,
            content,
            stop_sequence: if stop_reason == Some(StopReason::Stop) {
                seq
            } else {
                None
            },
            stop_reason,
            usage,
        })
}

/// Usage events replace each other: keep the last, where it was.
fn last_usage_only(events: &[StreamEvent]) -> Vec<StreamEvent> {
    let last = events
        .iter()
        .rposition(|e| matches!(e, StreamEvent::Usage(_)));
    events
        .iter()
        .enumerate()
        .filter(|(i, e)| !matches!(e, StreamEvent::Usage(_)) || Some(*i) == last)
        .map(|(_, e)| e.clone())
        .collect()
}

proptest! {
    #[test]
    fn requests_round_trip(req in request()) {
        let wire = encode_request(&req, 4096);
        let wire: MessagesRequest = serde_json::from_value(serde_json::to_value(&wire).unwrap()).unwrap();
        prop_assert_eq!(decode_request(&wire).unwrap(), req);
    }

    #[test]
    fn responses_round_trip(resp in response()) {
        let wire = encode_response(&resp);
        let wire: MessagesResponse = serde_json::from_value(serde_json::to_value(&wire).unwrap()).unwrap();
        prop_assert_eq!(decode_response(&wire), resp);
    }

    #[test]
    fn streams_round_trip(mut events in arb::stream(
        true, true,
        prop_oneof![Just(StopReason::Stop), Just(StopReason::Length), Just(StopReason::ToolCalls), Just(StopReason::Refusal), Just(StopReason::PauseTurn)],
        arb::usage(true, false),
    )) {
        let StreamEvent::Start { id, model } = &mut events[0] else { unreachable!() };
        *id = format!("msg_{id}");
        let mut encoder = EventEncoder::new(model.clone());
        let mut wire = Vec::new();
        for e in &events {
            encoder.push(e, &mut wire);
        }
        let mut decoder = EventDecoder::new();
        let mut back = Vec::new();
        for w in &wire {
            let w: WireEvent = serde_json::from_str(&serde_json::to_string(w).unwrap()).unwrap();
            decoder.push(&w, &mut back).unwrap();
        }
        prop_assert!(decoder.is_ended());
        prop_assert_eq!(last_usage_only(&back), events);
    }
}

#[test]
fn usage_maps_exactly() {
    let wire: crate::anthropic::Usage = serde_json::from_value(json!({
        "input_tokens": 12, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2000, "output_tokens": 50
    })).unwrap();
    let usage = decode_usage(&wire);
    assert_eq!(
        (
            usage.input,
            usage.cache_write,
            usage.cache_read,
            usage.output
        ),
        (12, 100, 2000, 50)
    );
    assert_eq!(usage.total(), 2162);
    // The same usage in OpenAI's terms: prompt tokens include the cache.
    let openai = crate::openai::codec::encode_usage(&usage);
    assert_eq!(openai.prompt_tokens, 2112);
    assert_eq!(openai.cached_tokens(), 2000);
}

#[test]
fn event_encoder_follows_anthropics_sequence() {
    let mut enc = EventEncoder::new("claude-x");
    let mut out = Vec::new();
    for e in [
        StreamEvent::Start {
            id: "chatcmpl-1".into(),
            model: "up".into(),
        },
        StreamEvent::BlockStart {
            index: 3,
            kind: BlockKind::Text,
        },
        StreamEvent::Delta {
            index: 3,
            delta: Delta::Text("hi".into()),
        },
        StreamEvent::BlockStop { index: 3 },
        StreamEvent::Finish {
            reason: StopReason::Stop,
            stop_sequence: None,
        },
        StreamEvent::Usage(crate::Usage {
            input: 5,
            output: 2,
            ..Default::default()
        }),
        StreamEvent::End,
    ] {
        enc.push(&e, &mut out);
    }
    let json: Vec<serde_json::Value> = out
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let types: Vec<&str> = json.iter().map(|j| j["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(json[0]["message"]["id"], "msg_chatcmpl-1");
    assert_eq!(json[0]["message"]["model"], "claude-x");
    assert_eq!(json[0]["message"]["content"], json!([]));
    assert_eq!(json[0]["message"]["stop_reason"], json!(null));
    assert_eq!(
        json[2],
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    );
    assert_eq!(
        json[3]["delta"],
        json!({"type": "text_delta", "text": "hi"})
    );
    assert_eq!(
        json[5]["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
    assert_eq!(json[5]["usage"]["input_tokens"], 5);
    assert_eq!(json[5]["usage"]["output_tokens"], 2);
}

#[test]
fn untranslatable_blocks_and_tools_name_the_field() {
    let req: MessagesRequest = serde_json::from_value(json!({
        "model": "m", "max_tokens": 10,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "document", "source": {}}]}]
    })).unwrap();
    let err = decode_request(&req).unwrap_err();
    assert_eq!(err.field, "messages[0].content[1].type");
    assert!(err.message.contains("'document'"));
    let req: MessagesRequest = serde_json::from_value(json!({
        "model": "m", "max_tokens": 10, "messages": [],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}]
    }))
    .unwrap();
    assert_eq!(decode_request(&req).unwrap_err().field, "tools[0].type");
}

#[test]
fn system_blocks_keep_their_type_tag() {
    let req = Request {
        system: vec![Text {
            text: "be brief".into(),
            cache_control: Some(json!({"type": "ephemeral"})),
        }],
        ..Request::default()
    };
    let wire = serde_json::to_value(encode_request(&req, 10)).unwrap();
    assert_eq!(
        wire["system"],
        json!([{ "type": "text", "text": "be brief", "cache_control": { "type": "ephemeral" } }])
    );
}

/// Claude Code, for a model name it does not know, puts a system message inside the
/// conversation and asks for adaptive thinking with `output_config.effort`.
#[test]
fn claude_code_mid_conversation_system_and_effort_decode() {
    let req: MessagesRequest = serde_json::from_value(json!({
        "model": "oai/gpt-4o-mini",
        "max_tokens": 32000,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "say hi"}]},
            {"role": "system", "content": "Available agent types: …"}
        ],
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "stream": true
    }))
    .unwrap();
    let c = decode_request(&req).unwrap();
    assert_eq!(c.messages[1].role, Role::System);
    assert_eq!(c.reasoning, Some(Reasoning::Effort("high".into())));
    // An Anthropic upstream reached by translation gets it as user text.
    let back = encode_request(&c, 4096);
    assert!(
        back.messages
            .iter()
            .all(|m| m.role != crate::anthropic::Role::System)
    );
}

/// The Codex CLI's instructions arrive as `developer` items before the user's: to an
/// Anthropic upstream they are the system prompt, not user text.
#[test]
fn leading_system_messages_join_the_system_prompt() {
    let c = Request {
        system: vec![Text::plain("first")],
        messages: vec![
            Message::text(Role::System, "second"),
            Message::text(Role::User, "hi"),
            Message::text(Role::System, "later"),
        ],
        ..Request::default()
    };
    let back = serde_json::to_value(encode_request(&c, 100)).unwrap();
    assert_eq!(
        back["system"],
        json!([{"type": "text", "text": "first"}, {"type": "text", "text": "second"}])
    );
    assert_eq!(back["messages"][0]["role"], "user");
    assert_eq!(back["messages"].as_array().unwrap().len(), 1, "{back}");
    assert!(back["messages"][0].to_string().contains("later"));
}
