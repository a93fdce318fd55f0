//! Chat completions through the fast path, over real sockets against the mock provider.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestGateway, chat, json_events, sse_data};
use serde_json::{Value, json};

#[tokio::test]
async fn non_streaming_chat_is_relayed_with_the_requested_model_name() {
    let gw = TestGateway::start().await;
    let resp = gw
        .post("/v1/chat/completions", &chat("fast", "hello there"))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchboard-provider"], "mock");
    assert_eq!(resp.headers()["x-switchboard-model"], "gpt-4o-mini");
    assert!(resp.headers().contains_key("x-request-id"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["model"], "fast",
        "the client sees the name it asked for"
    );
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: hello there"
    );
    assert_eq!(body["usage"]["prompt_tokens"], 2);

    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-upstream-1"));
    let sent = sent.json().unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(sent["temperature"], 0.25, "virtual model default applied");
}

#[tokio::test]
async fn the_body_is_forwarded_unchanged_but_for_the_model() {
    let gw = TestGateway::start().await;
    let request = json!({
        "model": "mock/gpt-4o-mini",
        "messages": [
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": [
                { "type": "text", "text": "what is this?", "cache_control": { "type": "ephemeral" } },
                { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low" } },
                { "type": "input_audio", "input_audio": { "data": "UklGRg==", "format": "wav" } }
            ] }
        ],
        "tools": [{ "type": "function", "function": { "name": "f", "parameters": { "type": "object" } } }],
        "tool_choice": "none",
        "parallel_tool_calls": false,
        "response_format": { "type": "json_schema", "json_schema": { "name": "s", "schema": { "type": "object" }, "strict": true } },
        "stop": ["\n\n"], "n": 1, "seed": 7, "logprobs": true, "top_logprobs": 2,
        "max_completion_tokens": 50, "reasoning_effort": "low", "user": "u-1",
        "metadata": { "team": "a" }, "temperature": 0.9,
        "vendor_extension": { "nested": [1, 2, { "deep": true }] }
    });
    let resp = gw.post("/v1/chat/completions", &request).await;
    assert_eq!(resp.status(), 200);
    let mut expected = request.clone();
    expected["model"] = json!("gpt-4o-mini");
    assert_eq!(gw.mock.last_request().unwrap().json().unwrap(), expected);
}

#[tokio::test]
async fn streaming_chat_relays_chunks_and_hides_the_usage_chunk_it_asked_for() {
    let gw = TestGateway::start().await;
    let mut req = chat("fast", "one two three");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let data = sse_data(resp).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks = json_events(&data);
    assert!(chunks.len() >= 4, "streamed in several chunks: {chunks:?}");
    assert!(chunks.iter().all(|c| c["model"] == "fast"));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "echo: one two three");
    assert!(
        chunks
            .iter()
            .all(|c| c["choices"].as_array().is_some_and(|a| !a.is_empty())),
        "the usage-only chunk the client did not ask for is stripped"
    );
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["stream_options"]["include_usage"], true,
        "usage requested upstream"
    );
}

#[tokio::test]
async fn streaming_chat_keeps_the_usage_chunk_when_the_client_asked() {
    let gw = TestGateway::start().await;
    let mut req = chat("fast", "a b c d");
    req["stream"] = json!(true);
    req["stream_options"] = json!({ "include_usage": true });
    let chunks = json_events(&sse_data(gw.post("/v1/chat/completions", &req).await).await);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], 4);
    assert_eq!(last["model"], "fast");
}

#[tokio::test]
async fn tool_calls_stream_through() {
    let gw = TestGateway::start().await;
    let req = json!({
        "model": "fast", "stream": true,
        "messages": [{ "role": "user", "content": "weather in Paris?" }],
        "tools": [{ "type": "function", "function": {
            "name": "get_weather",
            "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }
        } }]
    });
    let chunks = json_events(&sse_data(gw.post("/v1/chat/completions", &req).await).await);
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
    assert!(chunks.len() > 3, "arguments arrive in pieces");
}

#[tokio::test]
async fn non_streaming_tool_call_and_tool_result_turn() {
    let gw = TestGateway::start().await;
    let tools = json!([{ "type": "function", "function": {
        "name": "lookup", "parameters": { "type": "object", "properties": { "q": { "type": "string" } }, "required": ["q"] }
    } }]);
    let body: Value = gw
        .post("/v1/chat/completions", &json!({ "model": "fast", "tools": tools, "messages": [{ "role": "user", "content": "find it" }] }))
        .await
        .json()
        .await
        .unwrap();
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "lookup");
    let id = call["id"].as_str().unwrap();
    let body: Value = gw
        .post(
            "/v1/chat/completions",
            &json!({ "model": "fast", "tools": tools, "messages": [
            { "role": "user", "content": "find it" },
            body["choices"][0]["message"].clone(),
            { "role": "tool", "tool_call_id": id, "content": "found: 42" }
        ] }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "tool result: found: 42"
    );
}

#[tokio::test]
async fn provider_prefixed_names_pass_any_model_through() {
    let gw = TestGateway::start().await;
    let resp = gw
        .post(
            "/v1/chat/completions?api-version=1&x=y",
            &chat("mock/brand-new-model", "hi"),
        )
        .await;
    assert_eq!(resp.status(), 200, "query strings are tolerated");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["model"], "mock/brand-new-model");
    assert_eq!(
        gw.mock.last_request().unwrap().json().unwrap()["model"],
        "brand-new-model"
    );
}

#[tokio::test]
async fn client_request_id_is_kept_and_forwarded() {
    let gw = TestGateway::start().await;
    let resp = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .header("x-request-id", "req-abc-123")
        .json(&chat("fast", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "req-abc-123");
    assert_eq!(
        gw.mock.last_request().unwrap().header("x-request-id"),
        Some("req-abc-123")
    );
}

#[tokio::test]
async fn client_parameters_win_over_virtual_model_defaults() {
    let gw = TestGateway::start().await;
    let mut req = chat("fast", "hi");
    req["temperature"] = json!(1.5);
    gw.post("/v1/chat/completions", &req).await;
    assert_eq!(
        gw.mock.last_request().unwrap().json().unwrap()["temperature"],
        1.5
    );
}
