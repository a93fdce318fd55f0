//! Generated replies: echo, scripted text and tool calls, streamed and not, chat and legacy.

use std::net::SocketAddr;

use serde_json::{Value, json};
use testkit::{MockOptions, MockProvider, MockUsage, Reply};

use crate::support::{chat_body, chat_text, post, post_json, sse_chunks, stream_body};

fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0}
    })
}

fn weather_tools() -> Value {
    json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"type": "string"}},
                "required": ["city", "days"]
            }
        }
    }])
}

#[tokio::test]
async fn echo_answers_with_the_last_user_message() {
    let mock = MockProvider::start().await;
    let (status, body) = post_json(&mock, "/v1/chat/completions", &chat_body("hello world")).await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-4o-0001");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-mock-"));
    assert!(body["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(body["system_fingerprint"], "fp_mock");
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "echo: hello world");
    assert_eq!(choice["finish_reason"], "stop");
    // "be brief" + "hello world" = 4 prompt words; "echo: hello world" = 3.
    assert_eq!(body["usage"], usage(4, 3));
    assert_eq!(mock.calls(), 1);
    let recorded = mock.last_request().unwrap();
    assert_eq!(recorded.path, "/v1/chat/completions");
    assert_eq!(recorded.json().unwrap()["model"], "gpt-4o");
}

#[tokio::test]
async fn echo_joins_text_parts() {
    let mock = MockProvider::start().await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "look at"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "this"}
    ]}]});
    let (_, body) = post_json(&mock, "/v1/chat/completions", &body).await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: look at this"
    );
}

#[tokio::test]
async fn echo_streams_word_by_word_without_usage_by_default() {
    let mock = MockProvider::start().await;
    let response = post(
        &mock,
        "/v1/chat/completions",
        &stream_body("hello world", false),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let chunks = sse_chunks(&response.text().await.unwrap());
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let contents: Vec<&str> = chunks[1..chunks.len() - 1]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["echo: ", "hello ", "world"]);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["choices"][0]["delta"], json!({}));
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "gpt-4o-0001");
        assert_eq!(chunk["id"], chunks[0]["id"]);
        assert!(
            chunk.get("usage").is_none(),
            "usage without include_usage: {chunk}"
        );
    }
}

#[tokio::test]
async fn include_usage_adds_a_final_usage_chunk() {
    let mock = MockProvider::start().await;
    let response = post(
        &mock,
        "/v1/chat/completions",
        &stream_body("hello world", true),
    )
    .await;
    let chunks = sse_chunks(&response.text().await.unwrap());
    let (last, rest) = chunks.split_last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"], usage(4, 3));
    for chunk in rest {
        assert_eq!(chunk["usage"], Value::Null);
        assert!(chunk.get("usage").is_some());
    }
    assert_eq!(rest.last().unwrap()["choices"][0]["finish_reason"], "stop");
    assert_eq!(chat_text(&chunks), "echo: hello world");
}

#[tokio::test]
async fn echo_calls_the_offered_tool_then_reports_its_result() {
    let mock = MockProvider::start().await;
    let mut body = chat_body("weather in Paris?");
    body["tools"] = weather_tools();
    let (_, response) = post_json(&mock, "/v1/chat/completions", &body).await;
    let choice = &response["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_mock_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"city": "x", "days": 1}));
    assert_eq!(response["usage"]["completion_tokens"], 5);

    body["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": null, "tool_calls": [call]}),
        json!({"role": "tool", "tool_call_id": call["id"], "content": "sunny"}),
    ]);
    let (_, response) = post_json(&mock, "/v1/chat/completions", &body).await;
    assert_eq!(
        response["choices"][0]["message"]["content"],
        "tool result: sunny"
    );

    body["tool_choice"] = json!("none");
    body["messages"] = json!([{"role": "user", "content": "hi"}]);
    let (_, response) = post_json(&mock, "/v1/chat/completions", &body).await;
    assert_eq!(response["choices"][0]["message"]["content"], "echo: hi");
}

#[tokio::test]
async fn scripted_tool_call_streams_its_arguments_in_pieces() {
    let mock = MockProvider::start().await;
    let arguments = r#"{"city":"Paris","days":3}"#;
    mock.push(Reply::ToolCall {
        name: "get_weather".into(),
        arguments: arguments.into(),
        id: Some("call_abc".into()),
    });
    let response = post(
        &mock,
        "/v1/chat/completions",
        &stream_body("weather?", true),
    )
    .await;
    let chunks = sse_chunks(&response.text().await.unwrap());
    let head = &chunks[0]["choices"][0]["delta"];
    assert_eq!(head["role"], "assistant");
    assert_eq!(
        head["tool_calls"][0],
        json!({"index": 0, "id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": ""}})
    );
    let pieces: Vec<&str> = chunks[1..]
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(pieces.len(), 3);
    assert_eq!(pieces.concat(), arguments);
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 5);
}

#[tokio::test]
async fn scripted_tool_call_without_stream() {
    let mock = MockProvider::start().await;
    mock.push(Reply::tool_call("lookup", r#"{"q":"rust"}"#));
    let (_, body) = post_json(&mock, "/v1/chat/completions", &chat_body("find it")).await;
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(
        call["function"],
        json!({"name": "lookup", "arguments": "{\"q\":\"rust\"}"})
    );
    assert!(call["id"].as_str().unwrap().starts_with("call_mock_"));
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn scripted_text_and_stream_replies() {
    let mock = MockProvider::start().await;
    let usage = MockUsage {
        prompt_tokens: 100,
        completion_tokens: 20,
        cached_tokens: 60,
        reasoning_tokens: 8,
    };
    mock.push(Reply::Text {
        content: "scripted answer".into(),
        usage: Some(usage),
    });
    mock.push(Reply::Stream {
        chunks: vec!["Hel".into(), "lo, ".into(), "there".into()],
        delay_ms: 0,
    });
    let (_, body) = post_json(&mock, "/v1/chat/completions", &chat_body("q")).await;
    assert_eq!(body["choices"][0]["message"]["content"], "scripted answer");
    assert_eq!(
        body["usage"],
        json!({
            "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
            "prompt_tokens_details": {"cached_tokens": 60},
            "completion_tokens_details": {"reasoning_tokens": 8}
        })
    );
    let response = post(&mock, "/v1/chat/completions", &stream_body("q", false)).await;
    let chunks = sse_chunks(&response.text().await.unwrap());
    let deltas: Vec<&str> = chunks[1..chunks.len() - 1]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, ["Hel", "lo, ", "there"]);
}

#[tokio::test]
async fn legacy_completions_echo_the_prompt() {
    let mock = MockProvider::start().await;
    let (status, body) = post_json(
        &mock,
        "/v1/completions",
        &json!({"model": "gpt-3.5-turbo-instruct", "prompt": "say this"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "text_completion");
    assert_eq!(body["model"], "gpt-3.5-turbo-instruct-0001");
    assert!(body["id"].as_str().unwrap().starts_with("cmpl-mock-"));
    assert_eq!(body["choices"][0]["text"], "echo: say this");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"], usage(2, 3));

    let stream = json!({"model": "m", "prompt": ["first one", "second"], "stream": true, "stream_options": {"include_usage": true}});
    let response = post(&mock, "/v1/completions", &stream).await;
    let chunks = sse_chunks(&response.text().await.unwrap());
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "echo: first one");
    let (last, rest) = chunks.split_last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"], usage(2, 3));
    assert_eq!(rest.last().unwrap()["choices"][0]["finish_reason"], "stop");
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
}

#[tokio::test]
async fn options_shape_the_echo() {
    let opts = MockOptions {
        model_suffix: Some("-2024-08-06".into()),
        stream_chunks: Some(2),
        reply_words: Some(5),
        ..MockOptions::default()
    };
    let mock = MockProvider::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), opts)
        .await
        .unwrap();
    let (_, body) = post_json(&mock, "/v1/chat/completions", &chat_body("anything")).await;
    assert_eq!(body["model"], "gpt-4o-2024-08-06");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "lorem lorem lorem lorem lorem"
    );
    assert_eq!(body["usage"]["completion_tokens"], 5);
    let response = post(
        &mock,
        "/v1/chat/completions",
        &stream_body("anything", false),
    )
    .await;
    let chunks = sse_chunks(&response.text().await.unwrap());
    // role chunk + 2 even pieces + finish chunk
    assert_eq!(chunks.len(), 4);
    assert_eq!(chat_text(&chunks), "lorem lorem lorem lorem lorem");
}
