//! Embeddings, the model list, and the `/__mock` control routes.

use std::net::SocketAddr;

use base64::Engine as _;
use serde_json::{Value, json};
use testkit::{MockOptions, MockProvider};

use crate::support::{chat_body, client, post, post_json};

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn decode(value: &Value) -> Vec<f32> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap())
        .unwrap();
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[tokio::test]
async fn embeddings_are_deterministic_float_vectors() {
    let mock = MockProvider::start().await;
    let request = json!({"model": "text-embedding-3-small", "input": ["hello world", "bye"]});
    let (status, body) = post_json(&mock, "/v1/embeddings", &request).await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "text-embedding-3-small-0001");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 3, "total_tokens": 3})
    );
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], i);
        assert_eq!(floats(&item["embedding"]).len(), 8);
    }
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    let (_, again) = post_json(&mock, "/v1/embeddings", &request).await;
    assert_eq!(again["data"], body["data"]);
}

#[tokio::test]
async fn embeddings_honour_base64_and_dimensions() {
    let mock = MockProvider::start().await;
    let float = json!({"model": "e", "input": "hi", "dimensions": 4});
    let mut base64 = float.clone();
    base64["encoding_format"] = json!("base64");
    let (_, float) = post_json(&mock, "/v1/embeddings", &float).await;
    let (_, base64) = post_json(&mock, "/v1/embeddings", &base64).await;
    let expected = floats(&float["data"][0]["embedding"]);
    let decoded = decode(&base64["data"][0]["embedding"]);
    assert_eq!(decoded.len(), 4);
    for (a, b) in expected.iter().zip(&decoded) {
        assert!((a - b).abs() < 1e-6, "{expected:?} vs {decoded:?}");
    }
}

#[tokio::test]
async fn embeddings_always_float_ignores_encoding_format() {
    let opts = MockOptions {
        embeddings_always_float: true,
        ..MockOptions::default()
    };
    let mock = MockProvider::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), opts)
        .await
        .unwrap();
    let request = json!({"model": "e", "input": [[1, 2, 3]], "encoding_format": "base64"});
    let (_, body) = post_json(&mock, "/v1/embeddings", &request).await;
    assert!(body["data"][0]["embedding"].is_array());
    assert_eq!(body["usage"]["prompt_tokens"], 3);
}

#[tokio::test]
async fn models_are_listed_and_counted_but_not_scripted() {
    let mock = MockProvider::start().await;
    mock.push(testkit::Reply::status(500));
    let response = client()
        .get(format!("{}/models", mock.openai_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    let first = &body["data"][0];
    assert_eq!(first["object"], "model");
    assert!(first["id"].is_string() && first["created"].is_u64() && first["owned_by"].is_string());
    assert_eq!(mock.calls(), 1);
    // The pushed reply is still waiting for a scripted route.
    let (status, _) = post_json(&mock, "/v1/chat/completions", &chat_body("hi")).await;
    assert_eq!(status, 500);
}

#[tokio::test]
async fn control_routes_script_the_mock_without_counting() {
    let mock = MockProvider::start().await;
    let control = |path: &str| format!("{}/__mock/{path}", mock.url());
    let http = client();

    let pushed = http
        .post(control("push"))
        .json(&json!({"type": "status", "status": 503, "retry_after": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 200);
    let response = post(&mock, "/v1/chat/completions", &chat_body("hi")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "7");

    let set = http
        .post(control("default"))
        .json(&json!({"type": "text", "content": "always"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let (_, body) = post_json(&mock, "/v1/chat/completions", &chat_body("hi")).await;
    assert_eq!(body["choices"][0]["message"]["content"], "always");

    let calls: Value = http
        .get(control("calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls, json!({"calls": 2}));
    let requests: Value = http
        .get(control("requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(requests[1]["body"]["messages"][1]["content"], "hi");
    assert_eq!(requests[1]["path"], "/v1/chat/completions");

    let bad = http
        .post(control("push"))
        .json(&json!({"type": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let reset = http.post(control("reset")).send().await.unwrap();
    assert_eq!(reset.status(), 200);
    let calls: Value = http
        .get(control("calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls, json!({"calls": 0}));
    let (_, body) = post_json(&mock, "/v1/chat/completions", &chat_body("hi")).await;
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hi");
    assert_eq!(mock.calls(), 1);
}

#[tokio::test]
async fn unknown_routes_get_an_uncounted_openai_404() {
    let mock = MockProvider::start().await;
    let response = client()
        .post(format!("{}/v1/nope", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_url");
    assert_eq!(mock.calls(), 0);
}
