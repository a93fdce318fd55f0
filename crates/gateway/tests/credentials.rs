//! Credential pools through the gateway: rotation on 429 with the Retry-After honoured, a key
//! disabled on 401, OAuth2 tokens refreshed before expiry and on 401.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{TestGateway, chat};
use serde_json::{Value, json};
use testkit::{MockProvider, Reply, RequiredBearer};

async fn two_keys(extra: &str) -> TestGateway {
    let mock = MockProvider::start().await;
    let toml = format!(
        "[providers.p]\nbase_url = \"{}\"\nkeys = [\"key-a\", \"key-b\"]\n{extra}",
        mock.openai_base()
    );
    TestGateway::from_toml(mock, &toml).await
}

fn keys_used(gw: &TestGateway) -> Vec<String> {
    gw.mock
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .map(|r| {
            r.header("authorization")
                .unwrap_or("")
                .trim_start_matches("Bearer ")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn keys_are_used_in_turn() {
    let gw = two_keys("").await;
    for _ in 0..4 {
        assert_eq!(
            gw.post("/v1/chat/completions", &chat("p/m", "hi"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(keys_used(&gw), vec!["key-a", "key-b", "key-a", "key-b"]);
}

#[tokio::test]
async fn fill_first_sticks_to_the_first_key() {
    let gw = two_keys("key_strategy = \"fill_first\"\n").await;
    for _ in 0..3 {
        gw.post("/v1/chat/completions", &chat("p/m", "hi")).await;
    }
    assert_eq!(keys_used(&gw), vec!["key-a", "key-a", "key-a"]);
}

#[tokio::test]
async fn a_rate_limited_key_rests_for_its_retry_after_while_the_other_serves() {
    let gw = two_keys("").await;
    gw.mock.push(Reply::Status {
        status: 429,
        body: None,
        retry_after: Some(1),
    });
    let resp = gw.post("/v1/chat/completions", &chat("p/m", "hi")).await;
    assert_eq!(resp.status(), 200, "retried at once with the other key");
    assert_eq!(resp.headers()["x-switchboard-attempts"], "2");
    for _ in 0..3 {
        gw.post("/v1/chat/completions", &chat("p/m", "hi")).await;
    }
    assert_eq!(
        keys_used(&gw),
        vec!["key-a", "key-b", "key-b", "key-b", "key-b"],
        "key-a rests"
    );

    let health: Value = gw.get("/health/detailed").await.json().await.unwrap();
    let creds = &health["providers"][0]["credentials"];
    assert_eq!(creds[0]["state"], "cooling_down", "{creds}");
    assert!(creds[0]["cooling_down_for_ms"].as_u64().unwrap() <= 1_000);
    assert!(!health.to_string().contains("key-a"), "secrets never shown");

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    gw.post("/v1/chat/completions", &chat("p/m", "hi")).await;
    gw.post("/v1/chat/completions", &chat("p/m", "hi")).await;
    let used = keys_used(&gw);
    assert!(
        used[5..].contains(&"key-a".to_owned()),
        "key-a is back after 1 s: {used:?}"
    );
}

#[tokio::test]
async fn a_rejected_key_is_disabled_with_its_reason() {
    let gw = two_keys("").await;
    gw.mock.push(Reply::Status {
        status: 401,
        body: Some(json!({ "error": { "message": "Incorrect API key provided" } })),
        retry_after: None,
    });
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("p/m", "hi"))
            .await
            .status(),
        200
    );
    for _ in 0..4 {
        gw.post("/v1/chat/completions", &chat("p/m", "hi")).await;
    }
    assert_eq!(
        keys_used(&gw),
        vec!["key-a", "key-b", "key-b", "key-b", "key-b", "key-b"]
    );
    let health: Value = gw.get("/health/detailed").await.json().await.unwrap();
    let a = &health["providers"][0]["credentials"][0];
    assert_eq!(a["state"], "disabled");
    assert!(
        a["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("Incorrect API key"),
        "{a}"
    );
}

async fn oauth_gateway(expires_in: u64, rotate: bool) -> TestGateway {
    let mock = MockProvider::start().await;
    mock.set_oauth(expires_in, rotate);
    mock.require_bearer(Some(RequiredBearer::CurrentOAuth));
    let toml = format!(
        r#"
[providers.o]
base_url = "{base}"
oauth2 = [{{ token_url = "{url}/oauth/token", client_id = "switchboard", client_secret = "s3cret", refresh_token = "refresh-0" }}]
"#,
        base = mock.openai_base(),
        url = mock.url(),
    );
    TestGateway::from_toml(mock, &toml).await
}

#[tokio::test]
async fn oauth_tokens_are_fetched_reused_and_refreshed_before_expiry() {
    let gw = oauth_gateway(3600, true).await;
    for _ in 0..3 {
        assert_eq!(
            gw.post("/v1/chat/completions", &chat("o/m", "hi"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        gw.mock.oauth_refreshes(),
        1,
        "one token serves while it is valid"
    );
    assert_eq!(keys_used(&gw), vec!["tok-1", "tok-1", "tok-1"]);
    let form = gw.mock.last_oauth_form().unwrap();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["client_id"], "switchboard");

    // A short-lived token is renewed ahead of its expiry, with the rotated refresh token.
    let gw = oauth_gateway(2, true).await;
    gw.post("/v1/chat/completions", &chat("o/m", "hi")).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("o/m", "hi"))
            .await
            .status(),
        200
    );
    assert_eq!(gw.mock.oauth_refreshes(), 2);
    assert_eq!(keys_used(&gw), vec!["tok-1", "tok-2"]);
    assert_eq!(
        gw.mock.last_oauth_form().unwrap()["refresh_token"],
        "refresh-1",
        "the rotated refresh token was kept"
    );
}

#[tokio::test]
async fn oauth_tokens_are_refreshed_on_401() {
    let gw = oauth_gateway(3600, false).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("o/m", "hi"))
            .await
            .status(),
        200
    );
    // Someone else refreshes: the gateway's tok-1 is no longer the current token.
    let other = reqwest::Client::new()
        .post(format!("{}/oauth/token", gw.mock.url()))
        .form_text("grant_type=refresh_token&refresh_token=refresh-0")
        .await;
    assert!(other, "the out-of-band refresh worked");
    let resp = gw.post("/v1/chat/completions", &chat("o/m", "hi")).await;
    assert_eq!(
        resp.status(),
        200,
        "401 → refresh → retried with the new token"
    );
    assert_eq!(keys_used(&gw), vec!["tok-1", "tok-1", "tok-3"]);
}

trait FormText {
    async fn form_text(self, body: &str) -> bool;
}

impl FormText for reqwest::RequestBuilder {
    async fn form_text(self, body: &str) -> bool {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}
