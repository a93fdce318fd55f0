//! The Ollama wire format upstream, over real sockets: OpenAI and Anthropic clients against
//! the mock's native `POST /api/chat`, streamed (NDJSON) and not.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestGateway;
use serde_json::{Value, json};
use testkit::Reply;

fn ollama_upstream(mock: &str) -> String {
    format!(
        r#"
[providers.ol]
base_url = "{mock}"
wire_format = "ollama"
auth = "none"
timeouts = {{ first_byte = "5s", idle = "5s", total = "20s" }}

[models.local]
target = "ol/llama3.2"
params = {{ temperature = 0.25, num_ctx = 8192, keep_alive = "5m" }}
"#
    )
}

#[tokio::test]
async fn an_openai_client_reaches_ollama_without_streaming() {
    let gw = TestGateway::with(ollama_upstream).await;
    let req = json!({ "model": "local", "max_tokens": 40, "messages": [
        { "role": "system", "content": "be brief" },
        { "role": "user", "content": "hello there" }
    ] });
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["model"], "local");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: hello there"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    assert_eq!(body["usage"]["completion_tokens"], 3);

    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/api/chat");
    assert_eq!(sent.header("authorization"), None);
    let sent = sent.json().unwrap();
    assert_eq!(sent["model"], "llama3.2");
    assert_eq!(sent["stream"], false, "Ollama streams unless told not to");
    assert_eq!(
        sent["messages"],
        json!([
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": "hello there" }
        ])
    );
    assert_eq!(sent["options"]["temperature"], 0.25);
    assert_eq!(sent["options"]["num_ctx"], 8192);
    assert_eq!(sent["options"]["num_predict"], 40);
    assert_eq!(sent["keep_alive"], "5m");
}

#[tokio::test]
async fn an_openai_stream_from_ollama() {
    let gw = TestGateway::with(ollama_upstream).await;
    let req = json!({ "model": "ol/llama3.2", "stream": true,
        "stream_options": { "include_usage": true },
        "messages": [{ "role": "user", "content": "one two three" }] });
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200);
    let data = common::sse_data(resp).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks = common::json_events(&data);
    let pieces: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|t| !t.is_empty())
        .collect();
    assert!(pieces.len() > 1, "{pieces:?}");
    assert_eq!(pieces.concat(), "echo: one two three");
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], 3);
    assert_eq!(usage["completion_tokens"], 4);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["stream"], true);
}

#[tokio::test]
async fn tool_calls_and_results_cross_ollama_both_ways() {
    let gw = TestGateway::with(ollama_upstream).await;
    let tools = json!([{ "type": "function", "function": { "name": "get_weather",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] } } }]);
    let req = json!({ "model": "ol/llama3.2", "stream": true, "tools": tools,
        "messages": [{ "role": "user", "content": "weather?" }] });
    let chunks =
        common::json_events(&common::sse_data(gw.post("/v1/chat/completions", &req).await).await);
    let mut args = String::new();
    let mut id = String::new();
    for c in &chunks {
        for tc in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(i) = tc["id"].as_str() {
                id = i.to_owned();
                assert_eq!(tc["function"]["name"], "get_weather");
            }
            args.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({ "city": "x" })
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );

    let req = json!({ "model": "ol/llama3.2", "tools": tools, "messages": [
        { "role": "user", "content": "weather?" },
        { "role": "assistant", "content": null, "tool_calls": [
            { "id": id, "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"x\"}" } }
        ] },
        { "role": "tool", "tool_call_id": id, "content": "sunny" }
    ] });
    let body: Value = gw
        .post("/v1/chat/completions", &req)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "tool result: sunny"
    );
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["messages"][1]["tool_calls"][0]["function"],
        json!({ "name": "get_weather", "arguments": { "city": "x" } })
    );
    assert_eq!(sent["messages"][2]["role"], "tool");
    assert_eq!(sent["messages"][2]["content"], "sunny");
}

#[tokio::test]
async fn ollama_errors_reach_clients_in_their_dialect() {
    let gw = TestGateway::with(ollama_upstream).await;
    gw.mock.set_default(Reply::Status {
        status: 404,
        body: Some(json!({ "error": "model 'llama3.2' not found" })),
        retry_after: None,
    });
    let resp = gw
        .post("/v1/chat/completions", &common::chat("ol/llama3.2", "x"))
        .await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with(": model 'llama3.2' not found"),
        "{message}"
    );
    assert!(
        !message.contains('{'),
        "Ollama's text, not its JSON: {message}"
    );

    gw.mock.set_default(Reply::status(500));
    let resp = gw
        .post(
            "/v1/messages",
            &json!({ "model": "ol/llama3.2", "max_tokens": 10, "stream": true,
                     "messages": [{ "role": "user", "content": "x" }] }),
        )
        .await;
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("mock error: status 500"), "{message}");
}

#[tokio::test]
async fn an_anthropic_client_streams_from_ollama() {
    let gw = TestGateway::with(ollama_upstream).await;
    let req = json!({ "model": "ol/llama3.2", "max_tokens": 64, "stream": true,
        "messages": [{ "role": "user", "content": "one two" }] });
    let resp = gw.post("/v1/messages", &req).await;
    assert_eq!(resp.status(), 200);
    let data = common::json_events(&common::sse_data(resp).await);
    assert_eq!(data[0]["type"], "message_start");
    assert_eq!(data.last().unwrap()["type"], "message_stop");
    let text: String = data
        .iter()
        .filter_map(|d| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "echo: one two");
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["options"]["num_predict"], 64);
}
