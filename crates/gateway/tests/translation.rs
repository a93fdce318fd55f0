//! What must survive translation beyond the plain mapping, over real sockets against the mock:
//! structured output to Anthropic (a forced tool, unwrapped back to JSON text), inline
//! `<think>` reasoning, image URLs fetched for upstreams that need bytes, keep-alives on long
//! silences, and sampling parameters a target does not take.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestGateway;
use serde_json::{Value, json};
use testkit::Reply;

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
"#
    )
}

/// The `(event name, data)` of every event of an SSE response.
async fn events(resp: reqwest::Response) -> Vec<(String, Value)> {
    let bytes = resp.bytes().await.unwrap();
    let mut dec = wire::sse::SseDecoder::new();
    dec.push(&bytes);
    let mut out = Vec::new();
    while let Some(ev) = dec.next_event().or_else(|_| Ok::<_, ()>(None)).unwrap() {
        if !ev.is_comment() && ev.data != "[DONE]" {
            out.push((
                ev.event.unwrap_or_default(),
                serde_json::from_str(&ev.data).unwrap(),
            ));
        }
    }
    out
}

const CITY: &str = r#"{"name":"Paris","country":"France"}"#;

fn city_schema() -> Value {
    json!({ "type": "object", "properties": {
        "name": { "type": "string" }, "country": { "type": "string" } },
        "required": ["name", "country"] })
}

fn chat_with_schema(stream: bool) -> Value {
    json!({ "model": "claude/claude-x", "stream": stream,
        "messages": [{ "role": "user", "content": "a city" }],
        "response_format": { "type": "json_schema", "json_schema": {
            "name": "city", "strict": true, "schema": city_schema() } } })
}

// --- Structured output to Anthropic ------------------------------------------------------

#[tokio::test]
async fn a_json_schema_reaches_anthropic_as_a_forced_tool_and_comes_back_as_text() {
    let gw = TestGateway::with(anthropic_upstream).await;
    gw.mock.push(Reply::tool_call("city", CITY));
    let resp = gw
        .post("/v1/chat/completions", &chat_with_schema(false))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let message = &body["choices"][0]["message"];
    assert_eq!(
        serde_json::from_str::<Value>(message["content"].as_str().unwrap()).unwrap(),
        serde_json::from_str::<Value>(CITY).unwrap()
    );
    assert!(message.get("tool_calls").is_none_or(Value::is_null));
    assert_eq!(body["choices"][0]["finish_reason"], "stop");

    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["tools"],
        json!([{ "type": "custom", "name": "city", "input_schema": city_schema(),
            "description": "Give the answer: the tool's input is the answer, in this JSON schema." }])
    );
    assert_eq!(
        sent["tool_choice"],
        json!({ "type": "tool", "name": "city", "disable_parallel_tool_use": true })
    );
    assert!(sent.get("response_format").is_none());
}

#[tokio::test]
async fn a_streamed_structured_answer_arrives_as_text_deltas() {
    let gw = TestGateway::with(anthropic_upstream).await;
    gw.mock.push(Reply::tool_call("city", CITY));
    let resp = gw
        .post("/v1/chat/completions", &chat_with_schema(true))
        .await;
    assert_eq!(resp.status(), 200);
    let chunks: Vec<Value> = events(resp).await.into_iter().map(|(_, d)| d).collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        serde_json::from_str::<Value>(CITY).unwrap()
    );
    assert!(
        chunks
            .iter()
            .all(|c| c["choices"][0]["delta"].get("tool_calls").is_none()),
        "no tool call reaches the client"
    );
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, ["stop"]);
}

#[tokio::test]
async fn a_responses_text_format_streams_back_as_output_text() {
    let gw = TestGateway::with(anthropic_upstream).await;
    gw.mock.push(Reply::tool_call("city", CITY));
    let req = json!({ "model": "claude/claude-x", "input": "a city", "stream": true,
        "text": { "format": { "type": "json_schema", "name": "city", "strict": true,
            "schema": city_schema() } } });
    let events = events(gw.post("/v1/responses", &req).await).await;
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        serde_json::from_str::<Value>(CITY).unwrap()
    );
    assert!(
        !events
            .iter()
            .any(|(n, _)| n.starts_with("response.function_call")),
        "no function call reaches the client"
    );
    let done = &events.last().unwrap().1;
    assert_eq!(done["type"], "response.completed");
    assert_eq!(done["response"]["status"], "completed");
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["tool_choice"]["name"], "city");
}

#[tokio::test]
async fn a_gemini_response_schema_comes_back_as_a_text_part() {
    let gw = TestGateway::with(anthropic_upstream).await;
    gw.mock.push(Reply::tool_call("response", CITY));
    let req = json!({ "contents": [{ "role": "user", "parts": [{ "text": "a city" }] }],
        "generationConfig": { "responseMimeType": "application/json",
            "responseSchema": { "type": "OBJECT", "properties": { "name": { "type": "STRING" } } } } });
    let resp = gw
        .post("/v1beta/models/claude/claude-x:generateContent", &req)
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let candidate = &body["candidates"][0];
    let parts = candidate["content"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert_eq!(
        serde_json::from_str::<Value>(parts[0]["text"].as_str().unwrap()).unwrap(),
        serde_json::from_str::<Value>(CITY).unwrap()
    );
    assert_eq!(candidate["finishReason"], "STOP");
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["tool_choice"]["name"], "response");
    assert_eq!(
        sent["tools"][0]["input_schema"],
        json!({ "type": "object", "properties": { "name": { "type": "string" } } })
    );
}

#[tokio::test]
async fn json_object_mode_is_a_tool_taking_any_object() {
    let gw = TestGateway::with(anthropic_upstream).await;
    gw.mock
        .push(Reply::tool_call("json_output", r#"{"ok":true}"#));
    let req = json!({ "model": "claude/claude-x",
        "messages": [{ "role": "user", "content": "json please" }],
        "response_format": { "type": "json_object" } });
    let body: Value = gw
        .post("/v1/chat/completions", &req)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"], r#"{"ok":true}"#,
        "{body}"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["tools"][0]["input_schema"]["type"], "object");
    assert_eq!(sent["tool_choice"]["name"], "json_output");
}

// --- Inline <think> reasoning -------------------------------------------------------------

/// A model of the OpenAI-speaking mock that writes its reasoning inline.
fn thinking_model(_: &str) -> String {
    r#"
[providers.mock.models."qwq"]
think_tags = true
"#
    .into()
}

fn thinking_reply() -> Reply {
    Reply::Stream {
        chunks: vec![
            "<thi".into(),
            "nk>let me".into(),
            " see</th".into(),
            "ink>\n\n".into(),
            "It is 4.".into(),
        ],
        delay_ms: 0,
    }
}

#[tokio::test]
async fn inline_think_tags_become_reasoning_content_for_openai_clients() {
    let gw = TestGateway::with(thinking_model).await;
    gw.mock.push(thinking_reply());
    let body: Value = gw
        .post("/v1/chat/completions", &common::chat("mock/qwq", "2+2?"))
        .await
        .json()
        .await
        .unwrap();
    let message = &body["choices"][0]["message"];
    assert_eq!(message["content"], "It is 4.");
    assert_eq!(message["reasoning_content"], "let me see");

    gw.mock.push(thinking_reply());
    let mut req = common::chat("mock/qwq", "2+2?");
    req["stream"] = json!(true);
    let chunks =
        common::json_events(&common::sse_data(gw.post("/v1/chat/completions", &req).await).await);
    let field = |name: &str| -> String {
        chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"][name].as_str())
            .collect()
    };
    assert_eq!(field("content"), "It is 4.");
    assert_eq!(field("reasoning_content"), "let me see");

    // A model without the option keeps its text as written (and takes the fast path).
    gw.mock.push(thinking_reply());
    let body: Value = gw
        .post("/v1/chat/completions", &common::chat("fast", "2+2?"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "<think>let me see</think>\n\nIt is 4."
    );
}

#[tokio::test]
async fn inline_think_tags_stream_as_thinking_blocks_to_anthropic_clients() {
    let gw = TestGateway::with(thinking_model).await;
    gw.mock.push(thinking_reply());
    let req = json!({ "model": "mock/qwq", "max_tokens": 100, "stream": true,
        "messages": [{ "role": "user", "content": "2+2?" }] });
    let events = events(gw.post("/v1/messages", &req).await).await;
    let starts: Vec<(u64, &str)> = events
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| {
            (
                d["index"].as_u64().unwrap(),
                d["content_block"]["type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(starts, [(0, "thinking"), (1, "text")]);
    let joined = |index: u64, field: &str| -> String {
        events
            .iter()
            .filter(|(n, d)| n == "content_block_delta" && d["index"] == index)
            .filter_map(|(_, d)| d["delta"][field].as_str())
            .collect()
    };
    assert_eq!(joined(0, "thinking"), "let me see");
    assert_eq!(joined(1, "text"), "It is 4.");
    let stops = events
        .iter()
        .filter(|(n, _)| n == "content_block_stop")
        .count();
    assert_eq!(stops, 2);
}

#[tokio::test]
async fn inline_think_tags_are_reasoning_items_for_responses_clients() {
    let gw = TestGateway::with(thinking_model).await;
    gw.mock.push(thinking_reply());
    let body: Value = gw
        .post(
            "/v1/responses",
            &json!({ "model": "mock/qwq", "input": "2+2?" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let output = body["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "reasoning", "{body}");
    assert_eq!(output[0]["summary"][0]["text"], "let me see");
    assert_eq!(output[1]["type"], "message");
    assert_eq!(output[1]["content"][0]["text"], "It is 4.");
}

// --- Gemini thoughts ------------------------------------------------------------------------

#[tokio::test]
async fn gemini_clients_get_thoughts_only_when_they_ask() {
    let gw = TestGateway::with(thinking_model).await;
    let mut req = json!({ "contents": [{ "role": "user", "parts": [{ "text": "2+2?" }] }] });
    gw.mock.push(thinking_reply());
    let body: Value = gw
        .post("/v1beta/models/mock/qwq:generateContent", &req)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["candidates"][0]["content"]["parts"],
        json!([{ "text": "It is 4." }])
    );

    req["generationConfig"] = json!({ "thinkingConfig": { "includeThoughts": true } });
    gw.mock.push(thinking_reply());
    let body: Value = gw
        .post("/v1beta/models/mock/qwq:generateContent", &req)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["candidates"][0]["content"]["parts"],
        json!([{ "text": "let me see", "thought": true }, { "text": "It is 4." }])
    );

    // Streamed, without asking: no thought part at all.
    req["generationConfig"] = json!({ "thinkingConfig": { "includeThoughts": false } });
    gw.mock.push(thinking_reply());
    let events = events(
        gw.post(
            "/v1beta/models/mock/qwq:streamGenerateContent?alt=sse",
            &req,
        )
        .await,
    )
    .await;
    let parts: Vec<&Value> = events
        .iter()
        .flat_map(|(_, d)| {
            d["candidates"][0]["content"]["parts"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .collect();
    assert!(
        parts.iter().all(|p| p.get("thought").is_none()),
        "{parts:?}"
    );
    let text: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
    assert_eq!(text, "It is 4.");
}

// --- Keep-alives ------------------------------------------------------------------------------

fn keep_alive_fast(_: &str) -> String {
    "[translation]\nkeep_alive = \"100ms\"\n".into()
}

fn slow_reply() -> Reply {
    Reply::Stream {
        chunks: vec!["one".into(), " two".into()],
        delay_ms: 450,
    }
}

#[tokio::test]
async fn a_silent_upstream_gets_pings_to_anthropic_clients_and_comments_to_others() {
    let gw = TestGateway::with(keep_alive_fast).await;
    gw.mock.push(slow_reply());
    let req = json!({ "model": "fast", "max_tokens": 100, "stream": true,
        "messages": [{ "role": "user", "content": "count" }] });
    let raw = gw.post("/v1/messages", &req).await.text().await.unwrap();
    let pings = raw.matches("event: ping\n").count();
    assert!(pings >= 2, "one at the start, more in the silence: {raw}");
    let mut dec = wire::sse::SseDecoder::new();
    dec.push(raw.as_bytes());
    let mut text = String::new();
    while let Some(ev) = dec.next_event().unwrap() {
        let data: Value = serde_json::from_str(&ev.data).unwrap();
        text.push_str(data["delta"]["text"].as_str().unwrap_or(""));
    }
    assert_eq!(text, "one two", "the stream is whole");

    gw.mock.push(slow_reply());
    let req = json!({ "model": "fast", "input": "count", "stream": true });
    let raw = gw.post("/v1/responses", &req).await.text().await.unwrap();
    assert!(raw.contains("\n\n: keep-alive\n\n"), "{raw}");
    assert!(raw.contains("response.completed"));
}

#[tokio::test]
async fn no_keep_alive_is_sent_when_the_upstream_is_not_silent() {
    let gw = TestGateway::start().await;
    gw.mock.push(slow_reply());
    let req = json!({ "model": "fast", "input": "count", "stream": true });
    let raw = gw.post("/v1/responses", &req).await.text().await.unwrap();
    assert!(!raw.contains("keep-alive"), "the default waits 15s: {raw}");
}

// --- Sampling parameters a target does not take ---------------------------------------------

#[tokio::test]
async fn sampling_parameters_a_target_lacks_are_not_sent() {
    let gw = TestGateway::with(anthropic_upstream).await;
    let req = json!({ "model": "claude/claude-x", "seed": 7, "presence_penalty": 0.5,
        "frequency_penalty": 0.2, "temperature": 0.3, "top_p": 0.9,
        "messages": [{ "role": "user", "content": "hi" }] });
    assert_eq!(gw.post("/v1/chat/completions", &req).await.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    for absent in ["seed", "presence_penalty", "frequency_penalty"] {
        assert!(sent.get(absent).is_none(), "{absent} reached Anthropic");
    }
    assert_eq!(sent["temperature"], 0.3);
    assert_eq!(sent["top_p"], 0.9);

    // Anthropic's top_k has no OpenAI field.
    let req = json!({ "model": "fast", "max_tokens": 10, "top_k": 5, "temperature": 0.3,
        "messages": [{ "role": "user", "content": "hi" }] });
    assert_eq!(gw.post("/v1/messages", &req).await.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert!(sent.get("top_k").is_none(), "top_k reached OpenAI");
    assert_eq!(sent["temperature"], 0.3);
}

// --- Responses input items ------------------------------------------------------------------

#[tokio::test]
async fn input_items_of_a_stored_response_are_listed() {
    let gw = TestGateway::start().await;
    let first: Value = gw
        .post(
            "/v1/responses",
            &json!({ "model": "fast", "input": "hello" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = first["id"].as_str().unwrap();
    let second: Value = gw
        .post(
            "/v1/responses",
            &json!({ "model": "fast", "previous_response_id": id,
                "input": [{ "role": "user", "content": [{ "type": "input_text", "text": "again" }] }] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let second_id = second["id"].as_str().unwrap();

    let list: Value = gw
        .get(&format!("/v1/responses/{id}/input_items"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(list["has_more"], false);
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["type"], "message");
    assert_eq!(data[0]["role"], "user");
    assert_eq!(
        data[0]["content"],
        json!([{ "type": "input_text", "text": "hello" }])
    );
    assert_eq!(list["first_id"], data[0]["id"]);
    assert_eq!(list["last_id"], data[0]["id"]);

    // The chained response lists the conversation that led to it, newest first, in pages.
    let url = format!("/v1/responses/{second_id}/input_items?limit=2");
    let page: Value = gw.get(&url).await.json().await.unwrap();
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["content"][0]["text"], "again");
    assert_eq!(data[1]["role"], "assistant", "the first answer");
    assert_eq!(page["has_more"], true);
    let after = page["last_id"].as_str().unwrap();
    let rest: Value = gw
        .get(&format!("{url}&after={after}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"][0]["content"][0]["text"], "hello");
    assert_eq!(rest["has_more"], false);

    let asc: Value = gw
        .get(&format!("/v1/responses/{second_id}/input_items?order=asc"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(asc["data"][0]["content"][0]["text"], "hello");

    let bad = gw
        .get(&format!("/v1/responses/{second_id}/input_items?limit=500"))
        .await;
    assert_eq!(bad.status(), 400);
    let err: Value = bad.json().await.unwrap();
    assert_eq!(err["error"]["param"], "limit");
    let missing = gw.get("/v1/responses/resp_nope/input_items").await;
    assert_eq!(missing.status(), 404);
}

// --- Image URLs fetched for upstreams that need bytes ---------------------------------------

/// The smallest PNG: the signature and a few bytes (enough to be recognized).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// A one-route image server on 127.0.0.1: `/img.png` answers `PNG` (without a content type,
/// so the type is recognized from the bytes), `/moved` redirects there, `/slow` never answers.
async fn image_server() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let response: Vec<u8> = match path.as_str() {
                    "/img.png" => {
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            PNG.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(PNG);
                        r
                    }
                    "/moved" => b"HTTP/1.1 302 Found\r\nlocation: /img.png\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
                    "/slow" => {
                        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                        return;
                    }
                    _ => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
                };
                let _ = socket.write_all(&response).await;
            });
        }
    });
    addr
}

/// A provider of the OpenAI-speaking mock that cannot fetch image URLs itself.
fn needs_bytes(allow_private: bool) -> impl FnOnce(&str) -> String {
    needs_bytes_up_to(allow_private, "1MiB")
}

fn needs_bytes_up_to(allow_private: bool, max: &'static str) -> impl FnOnce(&str) -> String {
    move |mock| {
        format!(
            r#"
[translation]
image_allow_private = {allow_private}
image_timeout = "500ms"
image_max_size = "{max}"

[providers.local]
base_url = "{mock}/v1"
auth = "none"
inline_images = true
[providers.local.models."llava"]
"#
        )
    }
}

fn with_image(model: &str, url: &str) -> Value {
    json!({ "model": model, "max_tokens": 50, "messages": [{ "role": "user", "content": [
        { "type": "text", "text": "what is this?" },
        { "type": "image", "source": { "type": "url", "url": url } }
    ] }] })
}

#[tokio::test]
async fn an_image_url_is_fetched_and_sent_as_bytes_where_the_upstream_needs_them() {
    let images = image_server().await;
    let gw = TestGateway::with(needs_bytes(true)).await;
    let url = format!("http://{images}/moved");
    let resp = gw
        .post("/v1/messages", &with_image("local/llava", &url))
        .await;
    assert_eq!(resp.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    use base64::Engine;
    let expected = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(PNG)
    );
    assert_eq!(
        sent["messages"][0]["content"][1]["image_url"]["url"], expected,
        "the redirect was followed and the bytes inlined"
    );

    // An OpenAI client to the same provider: the same, through the translation path.
    let req = json!({ "model": "local/llava", "messages": [{ "role": "user", "content": [
        { "type": "image_url", "image_url": { "url": format!("http://{images}/img.png") } }
    ] }] });
    assert_eq!(gw.post("/v1/chat/completions", &req).await.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["messages"][0]["content"][0]["image_url"]["url"],
        expected
    );

    // A provider that fetches URLs itself gets the URL.
    let resp = gw.post("/v1/messages", &with_image("fast", &url)).await;
    assert_eq!(resp.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["messages"][0]["content"][1]["image_url"]["url"], url);
}

#[tokio::test]
async fn image_urls_on_private_addresses_are_refused_in_the_clients_dialect() {
    let images = image_server().await;
    let gw = TestGateway::with(needs_bytes(false)).await;
    let url = format!("http://{images}/img.png");
    let resp = gw
        .post("/v1/messages", &with_image("local/llava", &url))
        .await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("127.0.0.1"), "{message}");
    assert_eq!(gw.mock.calls(), 0, "nothing went upstream");

    let req = json!({ "model": "local/llava", "messages": [{ "role": "user", "content": [
        { "type": "image_url", "image_url": { "url": "http://169.254.169.254/latest/meta-data" } }
    ] }] });
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], "image_url");
    assert_eq!(gw.mock.calls(), 0);
}

#[tokio::test]
async fn an_image_fetch_is_bounded_in_time_and_size() {
    let images = image_server().await;
    let gw = TestGateway::with(needs_bytes(true)).await;
    let started = std::time::Instant::now();
    let resp = gw
        .post(
            "/v1/messages",
            &with_image("local/llava", &format!("http://{images}/slow")),
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let missing = gw
        .post(
            "/v1/messages",
            &with_image("local/llava", &format!("http://{images}/nothing.png")),
        )
        .await;
    assert_eq!(missing.status(), 400);

    let small = TestGateway::with(needs_bytes_up_to(true, "8B")).await;
    let resp = small
        .post(
            "/v1/messages",
            &with_image("local/llava", &format!("http://{images}/img.png")),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 8"),
        "{body}"
    );
    assert_eq!(small.mock.calls(), 0);
}
