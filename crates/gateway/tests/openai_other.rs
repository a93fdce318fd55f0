//! Embeddings, legacy completions, model listing and health over real sockets.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestGateway, json_events, sse_data};
use serde_json::{Value, json};

#[tokio::test]
async fn embeddings_float_and_base64() {
    let gw = TestGateway::start().await;
    let body: Value = gw
        .post("/v1/embeddings", &json!({ "model": "mock/text-embedding-3-small", "input": ["a", "b"], "encoding_format": "float" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["model"], "mock/text-embedding-3-small");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 8);

    let body: Value = gw
        .post("/v1/embeddings", &json!({ "model": "mock/text-embedding-3-small", "input": "a", "encoding_format": "base64" }))
        .await
        .json()
        .await
        .unwrap();
    let b64 = body["data"][0]["embedding"].as_str().unwrap();
    let floats = wire::openai::embeddings::from_base64(b64).unwrap();
    assert_eq!(floats.len(), 8);
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn legacy_completions_stream_and_not() {
    let gw = TestGateway::start().await;
    let body: Value = gw
        .post(
            "/v1/completions",
            &json!({ "model": "fast", "prompt": "say hi", "max_tokens": 5 }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "text_completion");
    assert_eq!(body["model"], "fast");
    assert_eq!(body["choices"][0]["text"], "echo: say hi");

    let resp = gw
        .post(
            "/v1/completions",
            &json!({ "model": "fast", "prompt": "say hi", "stream": true }),
        )
        .await;
    let chunks = json_events(&sse_data(resp).await);
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "echo: say hi");
    assert!(chunks.iter().all(|c| c["model"] == "fast"));
}

#[tokio::test]
async fn model_listing_has_context_windows_and_prices() {
    let gw = TestGateway::start().await;
    let body: Value = gw.get("/v1/models").await.json().await.unwrap();
    assert_eq!(body["object"], "list");
    let data = body["data"].as_array().unwrap();
    let find = |id: &str| {
        data.iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let fast = find("fast");
    assert_eq!(fast["context_window"], 128000);
    assert_eq!(fast["context_length"], 128000);
    assert_eq!(fast["owned_by"], "mock");
    assert_eq!(fast["target"], "mock/gpt-4o-mini");
    let direct = find("mock/gpt-4o-mini");
    assert_eq!(direct["object"], "model");
    assert_eq!(direct["pricing"]["input"], 0.15);
    assert_eq!(direct["pricing"]["output"], 0.6);

    let one: Value = gw
        .get("/v1/models/mock/gpt-4o-mini")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], "mock/gpt-4o-mini");
    assert_eq!(one["context_window"], 128000);
    let missing = gw.get("/v1/models/nope-model").await;
    assert_eq!(missing.status(), 404);
    let err: Value = missing.json().await.unwrap();
    assert_eq!(err["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn health_and_readiness() {
    let gw = TestGateway::start().await;
    let live = gw.get("/health").await;
    assert_eq!(live.status(), 200);
    let ready: Value = gw.get("/health/ready").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["providers"], json!(["mock"]));
}

#[tokio::test]
async fn the_listing_merges_models_discovered_upstream() {
    let gw = TestGateway::start().await;
    let body: Value = gw.get("/v1/models").await.json().await.unwrap();
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"mock/mock-model"),
        "known only from the upstream's list: {ids:?}"
    );
    let discovered = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "mock/mock-model")
        .unwrap();
    assert_eq!(
        discovered["context_window"], 32768,
        "nothing describes it: the global default"
    );
    let calls = gw.mock.calls();
    gw.get("/v1/models").await;
    assert_eq!(gw.mock.calls(), calls, "the upstream list is cached");

    let off = TestGateway::with(|_| "[routing]\ndiscover_models = false\n".into()).await;
    let body: Value = off.get("/v1/models").await.json().await.unwrap();
    assert!(
        !body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "mock/mock-model")
    );
    assert_eq!(off.mock.calls(), 0);
}
