//! The Gemini wire format upstream, over real sockets: OpenAI and Anthropic clients against
//! the mock's `models/{model}:generateContent` (Google AI Studio form, key in
//! `x-goog-api-key`) and its Vertex AI form (bearer token), streamed and not.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestGateway;
use serde_json::{Value, json};
use testkit::{MockUsage, Reply};

/// A provider speaking the Gemini API (the mock's `/v1beta`).
fn gemini_upstream(mock: &str) -> String {
    format!(
        r#"
[providers.gem]
base_url = "{mock}/v1beta"
wire_format = "gemini"
auth = "header:x-goog-api-key"
keys = ["AIza-test-1"]
timeouts = {{ first_byte = "5s", idle = "5s", total = "20s" }}
[providers.gem.models."gemini-x"]
context_window = 1048576
input_price = 0.3
output_price = 2.5
cache_read_price = 0.03

[providers.vtx]
base_url = "{mock}/v1/projects/proj-1/locations/europe-west4/publishers/google"
wire_format = "gemini"
auth = "bearer"
keys = ["ya29.token-1"]

[models.flash]
target = "gem/gemini-x"
params = {{ temperature = 0.5, max_tokens = 200, safetySettings = [] }}
"#
    )
}

fn chat(model: &str, text: &str) -> Value {
    json!({ "model": model, "messages": [
        { "role": "system", "content": "be brief" },
        { "role": "user", "content": text }
    ] })
}

fn weather_tool() -> Value {
    json!([{ "type": "function", "function": { "name": "get_weather",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] } } }])
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
async fn an_openai_client_reaches_gemini_with_its_system_prompt_and_key() {
    let gw = TestGateway::with(gemini_upstream).await;
    let resp = gw
        .post("/v1/chat/completions", &chat("gem/gemini-x", "hello there"))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchboard-provider"], "gem");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gem/gemini-x", "the client's model name");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: hello there"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    assert_eq!(body["usage"]["completion_tokens"], 3);

    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-x:generateContent");
    assert_eq!(sent.query, None);
    assert_eq!(sent.header("x-goog-api-key"), Some("AIza-test-1"));
    assert_eq!(sent.header("authorization"), None);
    let sent = sent.json().unwrap();
    assert_eq!(
        sent["systemInstruction"],
        json!({ "parts": [{ "text": "be brief" }] })
    );
    assert_eq!(
        sent["contents"],
        json!([{ "role": "user", "parts": [{ "text": "hello there" }] }])
    );
    assert!(sent.get("model").is_none(), "the model is in the path");
    assert!(sent.get("messages").is_none());
}

#[tokio::test]
async fn a_virtual_models_params_land_in_generation_config() {
    let gw = TestGateway::with(gemini_upstream).await;
    let mut req = chat("flash", "hi");
    req["max_tokens"] = json!(50);
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["model"], "flash");
    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-x:generateContent");
    let sent = sent.json().unwrap();
    assert_eq!(sent["generationConfig"]["temperature"], 0.5);
    assert_eq!(
        sent["generationConfig"]["maxOutputTokens"], 50,
        "the client's own setting wins over the params"
    );
    assert_eq!(sent["safetySettings"], json!([]));
    assert!(sent.get("temperature").is_none());
}

#[tokio::test]
async fn an_openai_stream_from_gemini_carries_cached_usage() {
    let gw = TestGateway::with(gemini_upstream).await;
    gw.mock.push(Reply::Text {
        content: "one two three".into(),
        usage: Some(cached_usage()),
    });
    let mut req = chat("gem/gemini-x", "count");
    req["stream"] = json!(true);
    req["stream_options"] = json!({ "include_usage": true });
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let data = common::sse_data(resp).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks = common::json_events(&data);
    assert!(chunks.iter().all(|c| c["model"] == "gem/gemini-x"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let pieces: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|t| !t.is_empty())
        .collect();
    assert!(pieces.len() > 1, "text arrives in pieces: {pieces:?}");
    assert_eq!(pieces.concat(), "one two three");
    let finish = chunks
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str());
    assert_eq!(finish, Some("stop"));
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(
        usage["prompt_tokens"], 2006,
        "Gemini's prompt count includes the cache"
    );
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 1920);
    assert_eq!(usage["completion_tokens"], 300, "candidates plus thoughts");
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 256);

    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-x:streamGenerateContent");
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));
    let sent = sent.json().unwrap();
    assert!(sent.get("stream").is_none());
    assert!(sent.get("stream_options").is_none());
}

#[tokio::test]
async fn cached_usage_is_exact_without_streaming() {
    let gw = TestGateway::with(gemini_upstream).await;
    gw.mock.push(Reply::Text {
        content: "hi".into(),
        usage: Some(cached_usage()),
    });
    let body: Value = gw
        .post("/v1/chat/completions", &chat("gem/gemini-x", "x"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["usage"]["prompt_tokens"], 2006);
    assert_eq!(
        body["usage"]["prompt_tokens_details"]["cached_tokens"],
        1920
    );
    assert_eq!(body["usage"]["completion_tokens"], 300);
    assert_eq!(body["usage"]["total_tokens"], 2306);
}

#[tokio::test]
async fn a_tool_call_and_its_result_cross_both_ways() {
    let gw = TestGateway::with(gemini_upstream).await;
    // The call, not streamed.
    let mut req = chat("gem/gemini-x", "weather in Paris?");
    req["tools"] = weather_tool();
    req["tool_choice"] = json!({ "type": "function", "function": { "name": "get_weather" } });
    let body: Value = gw
        .post("/v1/chat/completions", &req)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({ "city": "x" })
    );
    let id = call["id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    let declaration = &sent["tools"][0]["functionDeclarations"][0];
    assert_eq!(declaration["name"], "get_weather");
    assert_eq!(
        declaration["parametersJsonSchema"]["required"],
        json!(["city"]),
        "JSON Schema goes as parametersJsonSchema"
    );
    assert_eq!(
        sent["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"],
        json!(["get_weather"])
    );

    // The result goes back as a functionResponse; the mock answers it.
    let mut req = chat("gem/gemini-x", "weather in Paris?");
    req["tools"] = weather_tool();
    let messages = req["messages"].as_array_mut().unwrap();
    messages.push(json!({ "role": "assistant", "content": null, "tool_calls": [
        { "id": id, "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }
    ] }));
    messages.push(json!({ "role": "tool", "tool_call_id": id, "content": "sunny, 21C" }));
    let body: Value = gw
        .post("/v1/chat/completions", &req)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "tool result: sunny, 21C"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    let contents = sent["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 3);
    assert_eq!(contents[1]["role"], "model");
    assert_eq!(
        contents[1]["parts"][0]["functionCall"]["name"],
        "get_weather"
    );
    assert_eq!(
        contents[1]["parts"][0]["functionCall"]["args"],
        json!({ "city": "Paris" })
    );
    assert_eq!(contents[2]["role"], "user");
    let response = &contents[2]["parts"][0]["functionResponse"];
    assert_eq!(response["name"], "get_weather", "named after the call");
    assert!(
        response["response"].to_string().contains("sunny, 21C"),
        "{response}"
    );
}

#[tokio::test]
async fn a_streamed_tool_call_arrives_with_its_arguments() {
    let gw = TestGateway::with(gemini_upstream).await;
    gw.mock.push(Reply::ToolCall {
        name: "get_weather".into(),
        arguments: r#"{"city":"Paris","days":3}"#.into(),
        id: None,
    });
    let mut req = chat("gem/gemini-x", "weather?");
    req["stream"] = json!(true);
    req["tools"] = weather_tool();
    let chunks =
        common::json_events(&common::sse_data(gw.post("/v1/chat/completions", &req).await).await);
    let mut name = String::new();
    let mut args = String::new();
    let mut ids = Vec::new();
    for c in &chunks {
        for tc in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(tc["index"], 0);
            ids.extend(tc["id"].as_str().map(str::to_owned));
            name.push_str(tc["function"]["name"].as_str().unwrap_or(""));
            args.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(name, "get_weather");
    assert_eq!(ids.len(), 1, "one call, with one id");
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({ "city": "Paris", "days": 3 })
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );
}

#[tokio::test]
async fn upstream_errors_are_openai_errors_with_the_same_status() {
    let gw = TestGateway::with(gemini_upstream).await;
    gw.mock.set_default(Reply::status(500));
    let mut req = chat("gem/gemini-x", "x");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 500, "nothing streamed yet: a plain error");
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mock error: status 500"),
        "{body}"
    );
    assert!(body["error"].get("status").is_none(), "{body}");

    gw.mock.set_default(Reply::status(400));
    let resp = gw
        .post(
            "/v1/messages",
            &json!({ "model": "gem/gemini-x", "max_tokens": 10,
            "messages": [{ "role": "user", "content": "x" }] }),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error", "an Anthropic client's error shape");
    assert_eq!(body["error"]["type"], "invalid_request_error");

    // Last: a 429 rests the upstream credential.
    gw.mock.set_default(Reply::Status {
        status: 429,
        body: None,
        retry_after: Some(3),
    });
    let resp = gw
        .post("/v1/chat/completions", &chat("gem/gemini-x", "x"))
        .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    let body: Value = resp.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("mock error: status 429"), "{message}");
    assert!(
        body["error"].get("status").is_none(),
        "not Gemini's body: {body}"
    );
    assert!(body["error"]["type"].is_string(), "{body}");
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_chunk() {
    let gw = TestGateway::with(gemini_upstream).await;
    gw.mock.push(Reply::DropMidStream { after_chunks: 2 });
    let mut req = chat("gem/gemini-x", "one two three four five");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200);
    let data = common::sse_data(resp).await;
    assert_ne!(data.last().map(String::as_str), Some("[DONE]"));
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{last}");
}

#[tokio::test]
async fn an_anthropic_client_streams_from_gemini() {
    let gw = TestGateway::with(gemini_upstream).await;
    gw.mock.push(Reply::Text {
        content: "one two three".into(),
        usage: Some(cached_usage()),
    });
    let req = json!({ "model": "gem/gemini-x", "max_tokens": 64, "stream": true,
        "system": "be brief",
        "messages": [{ "role": "user", "content": "count" }] });
    let resp = gw.post("/v1/messages", &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let bytes = resp.bytes().await.unwrap();
    let mut dec = wire::sse::SseDecoder::new();
    dec.push(&bytes);
    let mut events = Vec::new();
    while let Some(ev) = dec.next_event().unwrap() {
        events.push((
            ev.event.unwrap_or_default(),
            serde_json::from_str::<Value>(&ev.data).unwrap(),
        ));
    }
    assert_eq!(events.first().unwrap().0, "message_start");
    assert_eq!(events[0].1["message"]["model"], "gem/gemini-x");
    assert_eq!(events.last().unwrap().0, "message_stop");
    let text: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "one two three");
    let (_, delta) = events.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["input_tokens"], 86, "cache reads apart");
    assert_eq!(delta["usage"]["cache_read_input_tokens"], 1920);
    assert_eq!(delta["usage"]["output_tokens"], 300);

    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));
    assert_eq!(sent.header("x-goog-api-key"), Some("AIza-test-1"));
    let sent = sent.json().unwrap();
    assert_eq!(
        sent["systemInstruction"],
        json!({ "parts": [{ "text": "be brief" }] })
    );
    assert_eq!(sent["generationConfig"]["maxOutputTokens"], 64);
}

#[tokio::test]
async fn the_vertex_form_sends_a_bearer_token_under_the_project_path() {
    let gw = TestGateway::with(gemini_upstream).await;
    let resp = gw
        .post("/v1/chat/completions", &chat("vtx/gemini-2.5-flash", "hi"))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["choices"][0]["message"]["content"],
        "echo: hi"
    );
    let sent = gw.mock.last_request().unwrap();
    assert_eq!(
        sent.path,
        "/v1/projects/proj-1/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(sent.header("authorization"), Some("Bearer ya29.token-1"));
    assert_eq!(sent.header("x-goog-api-key"), None);
}

#[test]
fn config_accepts_gemini_and_the_vertex_entry_needs_its_project() {
    let ok = gateway::Config::from_toml(
        "[providers.g]\nbase_url = \"https://example.com/v1beta\"\nwire_format = \"gemini\"\nkeys = [\"k\"]\n",
        &|_| None,
    );
    assert!(ok.is_ok(), "{:?}", ok.err());
    let err = gateway::Config::from_toml("[providers.vertex]\nkeys = [\"k\"]\n", &|_| None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("providers.vertex.base_url"), "{err}");
    assert!(err.contains("{project}"), "{err}");
    // Detected from the environment, it stays off until configured (no start-up failure).
    let env = |name: &str| (name == "VERTEX_ACCESS_TOKEN").then(|| "ya29.x".to_owned());
    assert!(gateway::Config::from_toml("", &env).is_ok());
}
