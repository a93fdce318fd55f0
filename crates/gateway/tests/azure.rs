//! Azure OpenAI upstreams over real sockets: the OpenAI wire format sent to deployment URLs
//! with an `api-version` and the key in `api-key`, on the fast path and translated.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestGateway;
use serde_json::{Value, json};

fn azure_upstream(mock: &str) -> String {
    format!(
        r#"
[providers.azure]
base_url = "{mock}"
keys = ["az-key-1"]
api_version = "2024-10-21"
"#
    )
}

#[tokio::test]
async fn chat_goes_to_the_deployment_url_with_the_api_key_header() {
    let gw = TestGateway::with(azure_upstream).await;
    let resp = gw
        .post(
            "/v1/chat/completions",
            &common::chat("azure/my-gpt4o", "hello there"),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["model"], "azure/my-gpt4o");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: hello there"
    );
    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/openai/deployments/my-gpt4o/chat/completions");
    assert_eq!(sent.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(sent.header("api-key"), Some("az-key-1"));
    assert_eq!(sent.header("authorization"), None);

    // An Anthropic client, translated, streams from the same deployment.
    let req = json!({ "model": "azure/my-gpt4o", "max_tokens": 20, "stream": true,
        "messages": [{ "role": "user", "content": "one two" }] });
    let resp = gw.post("/v1/messages", &req).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("message_stop"), "{text}");
    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/openai/deployments/my-gpt4o/chat/completions");
    assert_eq!(sent.query.as_deref(), Some("api-version=2024-10-21"));
}

#[test]
fn the_catalog_entry_needs_its_resource_and_api_versions_are_checked() {
    let err = gateway::Config::from_toml("[providers.azure]\nkeys = [\"k\"]\n", &|_| None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("providers.azure.base_url"), "{err}");
    let ok = gateway::Config::from_toml(
        "[providers.azure]\nbase_url = \"https://r.openai.azure.com\"\nkeys = [\"k\"]\n",
        &|_| None,
    );
    assert!(
        ok.is_ok(),
        "the catalog supplies auth and api_version: {:?}",
        ok.err()
    );
    let err = gateway::Config::from_toml(
        "[providers.x]\nbase_url = \"https://x.example\"\nwire_format = \"gemini\"\nkeys = [\"k\"]\napi_version = \"2024-10-21\"\n",
        &|_| None,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("providers.x.api_version"), "{err}");
}
