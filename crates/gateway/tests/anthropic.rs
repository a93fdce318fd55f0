//! The Anthropic dialect and wire format through the translation path, over real sockets:
//! Anthropic clients against the mock speaking the OpenAI wire format, then OpenAI and
//! Anthropic clients against the mock's Anthropic Messages endpoint.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestGateway;
use serde_json::{Value, json};
use testkit::{MockUsage, Reply};

fn messages(model: &str, text: &str) -> Value {
    json!({ "model": model, "max_tokens": 100, "messages": [{ "role": "user", "content": text }] })
}

/// The `(event name, data)` of every event of an SSE response.
async fn events(resp: reqwest::Response) -> Vec<(String, Value)> {
    let bytes = resp.bytes().await.unwrap();
    let mut dec = wire::sse::SseDecoder::new();
    dec.push(&bytes);
    let mut out = Vec::new();
    while let Some(ev) = dec.next_event().unwrap() {
        if !ev.is_comment() {
            out.push((
                ev.event.unwrap_or_default(),
                serde_json::from_str(&ev.data).unwrap(),
            ));
        }
    }
    assert!(
        dec.finish().unwrap().is_none(),
        "the stream ends on an event boundary"
    );
    out
}

fn types(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

/// Collapses runs of `content_block_delta` so sequences can be compared exactly.
fn shape(events: &[(String, Value)]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for t in types(events) {
        if !(t == "content_block_delta" && out.last() == Some(&"content_block_delta")) {
            out.push(t);
        }
    }
    out
}

#[tokio::test]
async fn a_message_with_a_system_prompt_is_translated_both_ways() {
    let gw = TestGateway::start().await;
    let mut req = messages("fast", "hello there");
    req["system"] =
        json!([{ "type": "text", "text": "be brief", "cache_control": { "type": "ephemeral" } }]);
    req["stop_sequences"] = json!(["END"]);
    req["metadata"] = json!({ "user_id": "u-1" });
    let resp = gw.post("/v1/messages", &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["x-switchboard-provider"], "mock");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(
        body["model"], "fast",
        "the client sees the name it asked for"
    );
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        body["content"],
        json!([{ "type": "text", "text": "echo: hello there" }])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["stop_sequence"], Value::Null);
    // The mock counts words across all messages: "be brief hello there".
    assert_eq!(body["usage"]["input_tokens"], 4);
    assert_eq!(body["usage"]["output_tokens"], 3);

    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-upstream-1"));
    let sent = sent.json().unwrap();
    assert_eq!(
        sent["messages"],
        json!([
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": "hello there" }
        ])
    );
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(sent["max_tokens"], 100);
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["user"], "u-1");
    assert_eq!(
        sent["temperature"], 0.25,
        "the virtual model's params still apply"
    );
    assert!(sent.get("stream").is_none());
}

#[tokio::test]
async fn streaming_follows_anthropics_event_sequence() {
    let gw = TestGateway::start().await;
    let mut req = messages("fast", "one two three");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/messages?beta=true", &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let events = events(resp).await;
    assert_eq!(
        shape(&events),
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
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str(), "event name and type agree");
    }
    let start = &events[0].1["message"];
    assert_eq!(start["model"], "fast");
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(
        events[2].1["content_block"],
        json!({ "type": "text", "text": "" })
    );
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["index"], 0);
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "echo: one two three");
    assert!(
        events
            .iter()
            .filter(|(n, _)| n == "content_block_delta")
            .count()
            > 1,
        "text arrives in pieces"
    );
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["input_tokens"], 3);
    assert_eq!(delta["usage"]["output_tokens"], 4);

    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

fn weather_tool() -> Value {
    json!([{
        "name": "get_weather",
        "description": "Weather in a city",
        "input_schema": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }
    }])
}

#[tokio::test]
async fn tool_use_streams_its_arguments_as_input_json_deltas() {
    let gw = TestGateway::start().await;
    let mut req = messages("fast", "weather in Paris?");
    req["stream"] = json!(true);
    req["tools"] = weather_tool();
    req["tool_choice"] = json!({ "type": "any", "disable_parallel_tool_use": true });
    let events = events(gw.post("/v1/messages", &req).await).await;
    assert_eq!(
        shape(&events),
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
    let block = &events[2].1["content_block"];
    assert_eq!(block["type"], "tool_use");
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({}));
    assert!(!block["id"].as_str().unwrap().is_empty());
    let pieces: Vec<&str> = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"].as_str().unwrap()
        })
        .collect();
    assert!(pieces.len() > 1, "arguments arrive in pieces: {pieces:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&pieces.concat()).unwrap(),
        json!({ "city": "x" })
    );
    assert_eq!(
        events[events.len() - 2].1["delta"]["stop_reason"],
        "tool_use"
    );

    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["tools"],
        json!([{ "type": "function", "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }
        } }])
    );
    assert_eq!(sent["tool_choice"], "required");
    assert_eq!(sent["parallel_tool_calls"], false);
}

/// An OpenAI stream with two tool calls whose arguments interleave.
fn parallel_calls_stream() -> String {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({ "id": "chatcmpl-p", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                    "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
        )
    };
    let call = |index: u32, id: Option<&str>, name: Option<&str>, args: &str| {
        let mut c = json!({ "index": index, "function": { "arguments": args } });
        if let (Some(id), Some(name)) = (id, name) {
            c["id"] = json!(id);
            c["type"] = json!("function");
            c["function"]["name"] = json!(name);
        }
        json!({ "tool_calls": [c] })
    };
    [
        chunk(json!({ "role": "assistant", "content": "Checking both." }), Value::Null),
        chunk(call(0, Some("call_a"), Some("get_weather"), ""), Value::Null),
        chunk(call(0, None, None, "{\"city\":"), Value::Null),
        chunk(call(1, Some("call_b"), Some("get_weather"), "{\"city\":"), Value::Null),
        chunk(call(0, None, None, "\"Paris\"}"), Value::Null),
        chunk(call(1, None, None, "\"Rome\"}"), Value::Null),
        chunk(json!({}), json!("tool_calls")),
        format!(
            "data: {}\n\n",
            json!({ "id": "chatcmpl-p", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                    "choices": [], "usage": { "prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50 } })
        ),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat()
}

#[tokio::test]
async fn parallel_tool_calls_become_separate_tool_use_blocks() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: parallel_calls_stream(),
    });
    let mut req = messages("fast", "weather in Paris and Rome?");
    req["stream"] = json!(true);
    req["tools"] = weather_tool();
    let events = events(gw.post("/v1/messages", &req).await).await;
    let starts: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(starts.len(), 3);
    assert_eq!(starts[0]["content_block"]["type"], "text");
    assert_eq!(
        (
            starts[1]["index"].clone(),
            starts[1]["content_block"]["id"].clone()
        ),
        (json!(1), json!("call_a"))
    );
    assert_eq!(
        (
            starts[2]["index"].clone(),
            starts[2]["content_block"]["id"].clone()
        ),
        (json!(2), json!("call_b"))
    );
    let args = |index: u64| -> Value {
        let s: String = events
            .iter()
            .filter(|(n, d)| n == "content_block_delta" && d["index"] == index)
            .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap().to_owned())
            .collect();
        serde_json::from_str(&s).unwrap()
    };
    assert_eq!(args(1), json!({ "city": "Paris" }));
    assert_eq!(args(2), json!({ "city": "Rome" }));
    let last = &events[events.len() - 2].1;
    assert_eq!(last["delta"]["stop_reason"], "tool_use");
    assert_eq!(last["usage"]["output_tokens"], 30);
    assert_eq!(types(&events).last(), Some(&"message_stop"));
}

#[tokio::test]
async fn tool_results_reach_the_upstream_as_tool_messages() {
    let gw = TestGateway::start().await;
    let req = json!({
        "model": "fast", "max_tokens": 50, "tools": weather_tool(),
        "messages": [
            { "role": "user", "content": "weather in Paris?" },
            { "role": "assistant", "content": [
                { "type": "text", "text": "Let me check." },
                { "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": { "city": "Paris" } }
            ] },
            { "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "toolu_1", "content": [{ "type": "text", "text": "sunny, 21C" }] }
            ] }
        ]
    });
    let resp = gw.post("/v1/messages", &req).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "tool result: sunny, 21C");
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["messages"],
        json!([
            { "role": "user", "content": "weather in Paris?" },
            { "role": "assistant", "content": "Let me check.", "tool_calls": [
                { "id": "toolu_1", "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }
            ] },
            { "role": "tool", "tool_call_id": "toolu_1", "content": "sunny, 21C" }
        ])
    );

    // An error result says so to the model.
    let mut req = req;
    req["messages"][2]["content"][0]["is_error"] = json!(true);
    gw.post("/v1/messages", &req).await;
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["messages"][2]["content"], "Error: sunny, 21C");
}

#[tokio::test]
async fn a_non_streamed_tool_call_is_a_tool_use_block() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::ToolCall {
        name: "get_weather".into(),
        arguments: "{\"city\":\"Oslo\"}".into(),
        id: Some("call_9".into()),
    });
    let mut req = messages("fast", "weather?");
    req["tools"] = weather_tool();
    let body: Value = gw.post("/v1/messages", &req).await.json().await.unwrap();
    assert_eq!(
        body["content"],
        json!([{ "type": "tool_use", "id": "call_9", "name": "get_weather", "input": { "city": "Oslo" } }])
    );
    assert_eq!(body["stop_reason"], "tool_use");
}

fn cached_usage() -> MockUsage {
    MockUsage {
        prompt_tokens: 2006,
        completion_tokens: 300,
        cached_tokens: 1920,
        reasoning_tokens: 256,
    }
}

#[tokio::test]
async fn cached_tokens_leave_input_tokens_and_become_cache_reads() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Text {
        content: "hi".into(),
        usage: Some(cached_usage()),
    });
    let body: Value = gw
        .post("/v1/messages", &messages("fast", "x"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["usage"],
        json!({ "input_tokens": 86, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1920, "output_tokens": 300 })
    );

    gw.mock.push(Reply::Text {
        content: "hi".into(),
        usage: Some(cached_usage()),
    });
    let mut req = messages("fast", "x");
    req["stream"] = json!(true);
    let events = events(gw.post("/v1/messages", &req).await).await;
    let (name, delta) = &events[events.len() - 2];
    assert_eq!(name, "message_delta");
    assert_eq!(
        delta["usage"],
        json!({ "input_tokens": 86, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1920, "output_tokens": 300 })
    );
}

#[tokio::test]
async fn upstream_errors_are_anthropic_errors_with_the_same_status() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Status {
        status: 400,
        body: Some(json!({ "error": { "message": "temperature is out of range", "type": "invalid_request_error", "param": "temperature", "code": null } })),
        retry_after: None,
    });
    let resp = gw.post("/v1/messages", &messages("fast", "x")).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({ "type": "error", "error": { "type": "invalid_request_error", "message": "temperature is out of range" } })
    );

    gw.mock.set_default(Reply::status(503));
    let mut req = messages("fast", "x");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/messages", &req).await;
    assert_eq!(
        resp.status(),
        503,
        "nothing was streamed yet: a plain error response"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "overloaded_error"
    );

    // Last: a 429 rests the upstream credential.
    gw.mock.set_default(Reply::Status {
        status: 429,
        body: None,
        retry_after: Some(7),
    });
    let resp = gw.post("/v1/messages", &messages("fast", "x")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::DropMidStream { after_chunks: 2 });
    let mut req = messages("fast", "one two three four five");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/messages", &req).await;
    assert_eq!(resp.status(), 200);
    let events = events(resp).await;
    assert_eq!(types(&events)[0], "message_start");
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["type"], "error");
    assert_eq!(data["error"]["type"], "api_error");
    assert!(!types(&events).contains(&"message_stop"));
}

#[tokio::test]
async fn bad_requests_get_anthropic_errors_naming_the_problem() {
    let gw = TestGateway::start().await;
    let resp = gw
        .post(
            "/v1/messages",
            &json!({ "model": "fast", "messages": [{ "role": "user", "content": "x" }] }),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens")
    );

    let resp = gw
        .post("/v1/messages", &messages("no-such-model", "x"))
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "not_found_error"
    );

    let mut req = messages("fast", "x");
    req["messages"][0]["content"] = json!([{ "type": "document", "source": { "type": "text", "media_type": "text/plain", "data": "d" } }]);
    let resp = gw.post("/v1/messages", &req).await;
    assert_eq!(resp.status(), 400);
    let msg = resp.json::<Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.contains("messages[0].content[0]") && msg.contains("document"),
        "{msg}"
    );

    let resp = gw.post_raw("/v1/messages", "{not json").await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["type"], "error");
    assert_eq!(gw.mock.calls(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn keys_are_accepted_in_x_api_key_and_refused_as_authentication_errors() {
    let gw = TestGateway::with(|_| "[auth]\nkeys = [\"sk-gw-1\"]\n".into()).await;
    let send = |key: Option<(&'static str, &'static str)>| {
        let mut req = gw
            .http
            .post(gw.url("/v1/messages"))
            .json(&messages("fast", "x"));
        if let Some((name, value)) = key {
            req = req.header(name, value);
        }
        req.send()
    };
    let resp = send(None).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "authentication_error"
    );
    assert_eq!(
        send(Some(("x-api-key", "sk-gw-1"))).await.unwrap().status(),
        200
    );
    assert_eq!(
        send(Some(("authorization", "Bearer sk-gw-1")))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn count_tokens_estimates_without_calling_the_upstream() {
    let gw = TestGateway::start().await;
    let req = json!({
        "model": "fast",
        "system": "abcd",
        "messages": [{ "role": "user", "content": "hello world!" }]
    });
    let resp = gw.post("/v1/messages/count_tokens?beta=true", &req).await;
    assert_eq!(resp.status(), 200);
    // 4 + 12 characters, a quarter each.
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({ "input_tokens": 4 })
    );
    let mut unknown = req.clone();
    unknown["model"] = json!("nope");
    let resp = gw.post("/v1/messages/count_tokens", &unknown).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "not_found_error"
    );
    assert_eq!(gw.mock.calls(), 0);
}

#[tokio::test]
async fn fallback_moves_to_the_next_target_before_anything_is_streamed() {
    let gw = TestGateway::with(|_| {
        "[providers.dead]\nbase_url = \"http://127.0.0.1:9/v1\"\nauth = \"none\"\n\
         [combos.pair]\ntargets = [\"dead/first\", \"mock/second\"]\n"
            .into()
    })
    .await;
    let mut req = messages("pair", "hello");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/messages", &req).await;
    assert_eq!(resp.status(), 200);
    let events = events(resp).await;
    assert_eq!(types(&events).last(), Some(&"message_stop"));
    assert_eq!(gw.mock.calls(), 1);
    assert_eq!(
        gw.mock.last_request().unwrap().json().unwrap()["model"],
        "second"
    );
}

#[tokio::test]
async fn thinking_becomes_reasoning_effort_only_for_models_that_reason() {
    let gw = TestGateway::with(|_| {
        "[providers.mock.models.\"o-mini\"]\ncapabilities = [\"tools\", \"reasoning\"]\n".into()
    })
    .await;
    let mut req = messages("mock/o-mini", "think");
    req["thinking"] = json!({ "type": "enabled", "budget_tokens": 4000 });
    assert_eq!(gw.post("/v1/messages", &req).await.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["reasoning_effort"], "medium");
    assert_eq!(sent["max_completion_tokens"], 100);
    assert!(sent.get("max_tokens").is_none());

    req["model"] = json!("fast");
    assert_eq!(gw.post("/v1/messages", &req).await.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert!(
        sent.get("reasoning_effort").is_none(),
        "gpt-4o-mini does not reason"
    );
    assert_eq!(sent["max_tokens"], 100);
}

#[tokio::test]
async fn upstream_reasoning_streams_as_a_thinking_block() {
    let gw = TestGateway::start().await;
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({ "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                    "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
        )
    };
    gw.mock.push(Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: [
            chunk(
                json!({ "role": "assistant", "reasoning_content": "Let me " }),
                Value::Null,
            ),
            chunk(json!({ "reasoning_content": "think." }), Value::Null),
            chunk(json!({ "content": "42" }), Value::Null),
            chunk(json!({}), json!("stop")),
            "data: [DONE]\n\n".to_owned(),
        ]
        .concat(),
    });
    let mut req = messages("fast", "answer?");
    req["stream"] = json!(true);
    let events = events(gw.post("/v1/messages", &req).await).await;
    assert_eq!(
        shape(&events),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(
        events[2].1["content_block"],
        json!({ "type": "thinking", "thinking": "", "signature": "" })
    );
    assert_eq!(
        events[3].1["delta"],
        json!({ "type": "thinking_delta", "thinking": "Let me " })
    );
    assert_eq!(events[6].1["content_block"]["type"], "text");
    assert_eq!(events[7].1["delta"]["text"], "42");
}

#[tokio::test]
async fn images_reach_the_upstream_as_data_urls() {
    let gw = TestGateway::start().await;
    let mut req = messages("fast", "x");
    req["messages"][0]["content"] = json!([
        { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo=" } },
        { "type": "image", "source": { "type": "url", "url": "https://example.com/a.png" } },
        { "type": "text", "text": "what is this?" }
    ]);
    assert_eq!(gw.post("/v1/messages", &req).await.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["messages"][0]["content"],
        json!([
            { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0KGgo=" } },
            { "type": "image_url", "image_url": { "url": "https://example.com/a.png" } },
            { "type": "text", "text": "what is this?" }
        ])
    );
}

// --- Anthropic upstreams ------------------------------------------------------------------

/// A provider speaking the Anthropic Messages API (the mock's `/v1/messages`).
fn anthropic_upstream(mock: &str) -> String {
    format!(
        r#"
[providers.claude]
base_url = "{mock}/v1"
wire_format = "anthropic"
auth = "header:x-api-key"
keys = ["sk-ant-1"]
[providers.claude.models."claude-x"]
max_output_tokens = 1000
cache_read_price = 0.3
"#
    )
}

#[tokio::test]
async fn an_openai_client_reaches_an_anthropic_upstream() {
    let gw = TestGateway::with(anthropic_upstream).await;
    let req = json!({ "model": "claude/claude-x", "messages": [
        { "role": "system", "content": "be brief" },
        { "role": "user", "content": "hello there" }
    ] });
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "claude/claude-x");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: hello there"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    assert_eq!(body["usage"]["completion_tokens"], 3);

    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-1"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    let sent = sent.json().unwrap();
    assert_eq!(
        sent,
        json!({ "model": "claude-x", "max_tokens": 1000, "system": "be brief",
                "messages": [{ "role": "user", "content": "hello there" }] }),
        "max_tokens defaults to the model's maximum output"
    );
}

#[tokio::test]
async fn an_openai_stream_from_an_anthropic_upstream() {
    let gw = TestGateway::with(anthropic_upstream).await;
    gw.mock.push(Reply::Text {
        content: "one two three".into(),
        usage: Some(cached_usage()),
    });
    let req = json!({ "model": "claude/claude-x", "stream": true,
        "stream_options": { "include_usage": true },
        "messages": [{ "role": "user", "content": "count" }] });
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200);
    let data = common::sse_data(resp).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks = common::json_events(&data);
    assert!(chunks.iter().all(|c| c["model"] == "claude/claude-x"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two three");
    let finish = chunks
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str());
    assert_eq!(finish, Some("stop"));
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(
        usage["prompt_tokens"], 2006,
        "cache reads are part of prompt tokens again"
    );
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 1920);
    assert_eq!(usage["completion_tokens"], 300);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["stream"], true);
    assert!(sent.get("stream_options").is_none());
}

#[tokio::test]
async fn openai_tool_calls_stream_from_an_anthropic_upstream() {
    let gw = TestGateway::with(anthropic_upstream).await;
    let req = json!({ "model": "claude/claude-x", "stream": true,
        "messages": [{ "role": "user", "content": "weather in Paris?" }],
        "tools": [{ "type": "function", "function": { "name": "get_weather",
            "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] } } }] });
    let chunks =
        common::json_events(&common::sse_data(gw.post("/v1/chat/completions", &req).await).await);
    let mut name = String::new();
    let mut args = String::new();
    for c in &chunks {
        for tc in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            name.push_str(tc["function"]["name"].as_str().unwrap_or(""));
            args.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(name, "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({ "city": "x" })
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "the client did not ask for usage"
    );
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["tools"][0]["input_schema"]["required"],
        json!(["city"])
    );
}

#[tokio::test]
async fn an_anthropic_client_reaches_an_anthropic_upstream_with_its_markers_and_betas() {
    let gw = TestGateway::with(anthropic_upstream).await;
    let req = json!({
        "model": "claude/claude-x", "max_tokens": 64, "stream": true,
        "system": [{ "type": "text", "text": "be brief", "cache_control": { "type": "ephemeral" } }],
        "thinking": { "type": "enabled", "budget_tokens": 2048 },
        "messages": [
            { "role": "user", "content": "hi" },
            { "role": "assistant", "content": [
                { "type": "thinking", "thinking": "hmm", "signature": "sig-1" },
                { "type": "text", "text": "hello" }
            ] },
            { "role": "user", "content": "one two" }
        ]
    });
    let resp = gw
        .http
        .post(gw.url("/v1/messages?beta=true"))
        .header("anthropic-beta", "interleaved-thinking-2025-05-14")
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = events(resp).await;
    assert_eq!(events[0].1["message"]["model"], "claude/claude-x");
    let text: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "echo: one two");
    assert_eq!(types(&events).last(), Some(&"message_stop"));

    let sent = gw.mock.last_request().unwrap();
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("interleaved-thinking-2025-05-14")
    );
    let mut expected = req.clone();
    expected["model"] = json!("claude-x");
    assert_eq!(
        sent.json().unwrap(),
        expected,
        "nothing lost on the way through"
    );
}

#[tokio::test]
async fn only_chat_completions_reach_an_anthropic_upstream() {
    let gw = TestGateway::with(anthropic_upstream).await;
    let resp = gw
        .post(
            "/v1/completions",
            &json!({ "model": "claude/claude-x", "prompt": "hi" }),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only chat completions")
    );
    assert_eq!(gw.mock.calls(), 0);
}

#[tokio::test]
async fn anthropic_upstream_errors_reach_openai_clients_as_openai_errors() {
    let gw = TestGateway::with(anthropic_upstream).await;
    gw.mock.set_default(Reply::status(529));
    let req =
        json!({ "model": "claude/claude-x", "messages": [{ "role": "user", "content": "x" }] });
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 503, "overloaded is a 503 to OpenAI clients");
    let body: Value = resp.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("mock error: status 529"), "{message}");
    assert!(
        body.get("type").is_none(),
        "not Anthropic's error envelope: {body}"
    );

    let resp = gw
        .post("/v1/messages", &messages("claude/claude-x", "x"))
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "overloaded_error"
    );

    gw.mock.set_default(Reply::status(400));
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );
}
