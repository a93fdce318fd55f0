//! The Anthropic Messages route: echo, tool calls, scripted usage, streams and faults.

use serde_json::{Value, json};
use testkit::{MockProvider, MockUsage, Reply};

use crate::support::{post, post_json};

fn body(text: &str) -> Value {
    json!({
        "model": "claude-x", "max_tokens": 50, "system": "be brief",
        "messages": [{ "role": "user", "content": text }]
    })
}

/// `(event name, data)` of each event; every event has both lines and a blank line.
fn parse_events(text: &str) -> Vec<(String, Value)> {
    assert!(text.ends_with("\n\n"), "unterminated SSE body: {text:?}");
    text.split_terminator("\n\n")
        .map(|event| {
            let (name, data) = event.split_once('\n').unwrap();
            (
                name.strip_prefix("event: ").unwrap().to_owned(),
                serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn echo_message_and_usage() {
    let mock = MockProvider::start().await;
    let (status, msg) = post_json(&mock, "/v1/messages", &body("hello there")).await;
    assert_eq!(status, 200);
    assert_eq!(msg["type"], "message");
    assert_eq!(msg["model"], "claude-x-0001");
    assert_eq!(
        msg["content"],
        json!([{ "type": "text", "text": "echo: hello there" }])
    );
    assert_eq!(msg["stop_reason"], "end_turn");
    assert_eq!(msg["usage"]["input_tokens"], 4, "system words count");
    assert_eq!(msg["usage"]["output_tokens"], 3);
    let sent = mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1/messages");
}

#[tokio::test]
async fn tools_are_called_and_results_echoed() {
    let mock = MockProvider::start().await;
    let tools = json!([{ "name": "get_weather", "input_schema": {
        "type": "object", "properties": { "city": { "type": "string" }, "days": { "type": "integer" } },
        "required": ["city", "days"] } }]);
    let mut req = body("weather?");
    req["tools"] = tools.clone();
    let (_, msg) = post_json(&mock, "/v1/messages", &req).await;
    assert_eq!(msg["stop_reason"], "tool_use");
    let call = &msg["content"][0];
    assert_eq!(call["type"], "tool_use");
    assert_eq!(call["input"], json!({ "city": "x", "days": 1 }));

    req["messages"] = json!([
        { "role": "user", "content": "weather?" },
        { "role": "assistant", "content": [call] },
        { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": call["id"], "content": "sunny" }] }
    ]);
    let (_, msg) = post_json(&mock, "/v1/messages", &req).await;
    assert_eq!(msg["content"][0]["text"], "tool result: sunny");

    req["tool_choice"] = json!({ "type": "none" });
    req["messages"] = json!([{ "role": "user", "content": "no tools" }]);
    let (_, msg) = post_json(&mock, "/v1/messages", &req).await;
    assert_eq!(msg["content"][0]["type"], "text");
}

#[tokio::test]
async fn cached_tokens_are_cache_reads_outside_input_tokens() {
    let mock = MockProvider::start().await;
    mock.push(Reply::Text {
        content: "hi".into(),
        usage: Some(MockUsage {
            prompt_tokens: 100,
            completion_tokens: 7,
            cached_tokens: 60,
            reasoning_tokens: 0,
        }),
    });
    let (_, msg) = post_json(&mock, "/v1/messages", &body("x")).await;
    assert_eq!(
        msg["usage"],
        json!({ "input_tokens": 40, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 60, "output_tokens": 7 })
    );
}

#[tokio::test]
async fn streams_follow_the_event_sequence() {
    let mock = MockProvider::start().await;
    let mut req = body("one two");
    req["stream"] = json!(true);
    let text = post(&mock, "/v1/messages", &req)
        .await
        .text()
        .await
        .unwrap();
    let events = parse_events(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str());
    }
    let text: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "echo: one two");
    assert_eq!(events[7].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(events[7].1["usage"]["output_tokens"], 3);

    mock.push(Reply::tool_call("f", "{\"a\":\"bcdef\"}"));
    let text = post(&mock, "/v1/messages", &req)
        .await
        .text()
        .await
        .unwrap();
    let events = parse_events(&text);
    assert_eq!(events[2].1["content_block"]["type"], "tool_use");
    let args: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(args, "{\"a\":\"bcdef\"}");
    assert_eq!(
        events[events.len() - 2].1["delta"]["stop_reason"],
        "tool_use"
    );
}

#[tokio::test]
async fn errors_and_bad_requests_are_anthropic_errors() {
    let mock = MockProvider::start().await;
    mock.push(Reply::status(529));
    let (status, err) = post_json(&mock, "/v1/messages", &body("x")).await;
    assert_eq!(status, 529);
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "overloaded_error");

    let (status, err) = post_json(
        &mock,
        "/v1/messages",
        &json!({ "model": "m", "messages": [] }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert_eq!(mock.calls(), 2, "every request is recorded");
}

#[tokio::test]
async fn a_dropped_stream_stops_after_the_given_deltas() {
    let mock = MockProvider::start().await;
    mock.push(Reply::DropMidStream { after_chunks: 1 });
    let mut req = body("one two three");
    req["stream"] = json!(true);
    let resp = post(&mock, "/v1/messages", &req).await;
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await;
    assert!(bytes.is_err(), "the connection is aborted");
}
