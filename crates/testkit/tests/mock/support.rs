//! Helpers: a client, JSON posts, and SSE parsing.

use serde_json::{Value, json};
use testkit::MockProvider;

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// POSTs `body` as JSON to `path` (relative to the mock's URL).
pub async fn post(mock: &MockProvider, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", mock.url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

pub async fn post_json(mock: &MockProvider, path: &str, body: &Value) -> (u16, Value) {
    let response = post(mock, path, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

pub fn chat_body(text: &str) -> Value {
    json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": text}
        ]
    })
}

pub fn stream_body(text: &str, include_usage: bool) -> Value {
    let mut body = chat_body(text);
    body["stream"] = json!(true);
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// The `data:` payloads of an SSE body, in order. Asserts the framing: every event is
/// exactly one `data: ...` line followed by a blank line.
pub fn sse_data(text: &str) -> Vec<String> {
    assert!(text.ends_with("\n\n"), "unterminated SSE body: {text:?}");
    text.split_terminator("\n\n")
        .map(|event| {
            let data = event.strip_prefix("data: ");
            data.unwrap_or_else(|| panic!("not a data event: {event:?}"))
                .to_owned()
        })
        .collect()
}

/// The JSON chunks of an SSE body, asserting it ends with exactly one `[DONE]`.
pub fn sse_chunks(text: &str) -> Vec<Value> {
    let mut data = sse_data(text);
    assert_eq!(data.pop().as_deref(), Some("[DONE]"));
    data.iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// Concatenated `delta.content` of chat chunks.
pub fn chat_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}
