//! Gateway keys from a real SQLite store: authentication, allowed models, limits (with their
//! headers and 429s), budgets, and one usage record per request priced exactly.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestGateway, base_config, chat};
use gateway::auth::keys::KeyRegistry;
use gateway::limits::Limiter;
use gateway::state::Services;
use gateway::usage::{MemorySink, UsageWriter, WriterConfig};
use serde_json::Value;
use store::{Limits, NewApiKey, NewUser, SecretBox, SecretKey, Store};
use testkit::MockProvider;

struct Fixture {
    gw: TestGateway,
    store: Store,
    secrets: SecretBox,
    keys: Arc<KeyRegistry>,
    sink: MemorySink,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_default(dir.path()).await.unwrap();
        store.migrate().await.unwrap();
        let secrets = SecretBox::new(&SecretKey::generate(), &SecretKey::generate()).unwrap();
        let keys = Arc::new(
            KeyRegistry::load(store.clone(), secrets.clone())
                .await
                .unwrap(),
        );
        let sink = MemorySink::new();
        let (usage, _task) = UsageWriter::start(
            Arc::new(sink.clone()),
            WriterConfig {
                interval: Duration::from_millis(20),
                ..WriterConfig::default()
            },
        );
        let services = Services {
            keys: Some(Arc::clone(&keys)),
            limiter: Limiter::memory(),
            usage: Some(usage),
            ..Services::default()
        };
        let mock = MockProvider::start().await;
        let toml = base_config(&mock.url());
        let gw = TestGateway::with_services(mock, &toml, services).await;
        Self {
            gw,
            store,
            secrets,
            keys,
            sink,
            _dir: dir,
        }
    }

    /// Creates a user and a key with these limits; returns the key's plaintext.
    async fn key(&self, limits: Limits, allowed: &[&str]) -> String {
        let user = self
            .store
            .create_user(&NewUser::member("ada"))
            .await
            .unwrap();
        let generated = self.secrets.generate_api_key();
        self.store
            .create_key(&NewApiKey {
                user_id: user.id,
                name: "test".into(),
                prefix: generated.prefix.clone(),
                hash: generated.hash,
                expires_at: None,
                allowed_models: allowed.iter().map(|s| (*s).to_owned()).collect(),
                limits,
            })
            .await
            .unwrap();
        self.keys.refresh().await.unwrap();
        generated.plaintext.expose().clone()
    }

    async fn call(&self, key: &str, model: &str) -> reqwest::Response {
        self.gw
            .http
            .post(self.gw.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&chat(model, "hello there"))
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn open_until_the_first_key_exists_then_keys_are_required() {
    let f = Fixture::new().await;
    assert_eq!(
        f.gw.post("/v1/chat/completions", &chat("fast", "hi"))
            .await
            .status(),
        200,
        "no keys: open"
    );
    let key = f.key(Limits::default(), &[]).await;
    assert_eq!(
        f.gw.post("/v1/chat/completions", &chat("fast", "hi"))
            .await
            .status(),
        401
    );
    assert_eq!(f.call("sk-sb-not-a-real-key", "fast").await.status(), 401);
    assert_eq!(f.call(&key, "fast").await.status(), 200);
    let by_header =
        f.gw.http
            .post(f.gw.url("/v1/chat/completions"))
            .header("x-api-key", &key)
            .json(&chat("fast", "hi"))
            .send()
            .await
            .unwrap();
    assert_eq!(by_header.status(), 200);
}

#[tokio::test]
async fn a_key_may_only_use_its_allowed_models() {
    let f = Fixture::new().await;
    let key = f.key(Limits::default(), &["fast", "mock/gpt-*"]).await;
    assert_eq!(f.call(&key, "fast").await.status(), 200);
    assert_eq!(f.call(&key, "mock/gpt-4o").await.status(), 200);
    let denied = f.call(&key, "mock/other").await;
    assert_eq!(denied.status(), 403);
    let err: Value = denied.json().await.unwrap();
    assert_eq!(err["error"]["code"], "model_not_allowed");
}

#[tokio::test]
async fn requests_per_minute_hold_exactly_with_headers_and_retry_after() {
    let f = Fixture::new().await;
    let key = f
        .key(
            Limits {
                rpm: Some(3),
                ..Limits::default()
            },
            &[],
        )
        .await;
    for i in 0..3 {
        let resp = f.call(&key, "fast").await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-ratelimit-limit-requests"], "3");
        assert_eq!(
            resp.headers()["x-ratelimit-remaining-requests"],
            (2 - i).to_string().as_str()
        );
    }
    let refused = f.call(&key, "fast").await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&wait));
    let err: Value = refused.json().await.unwrap();
    assert_eq!(err["error"]["code"], "rate_limit_exceeded");
    assert_eq!(err["error"]["type"], "rate_limit_error");
    assert_eq!(
        f.gw.mock.calls(),
        3,
        "the refused request never went upstream"
    );
}

#[tokio::test]
async fn a_budget_stops_spending_and_usage_is_recorded_priced() {
    let f = Fixture::new().await;
    // gpt-4o-mini in the test config: $0.15 / $0.60 per million tokens. The estimate of one
    // request (≈ its bytes / 4 in, 1024 out) is ~615 micro-dollars: a 700 budget admits one.
    let key = f
        .key(
            Limits {
                budget_micros: Some(700),
                budget_period: Some(store::BudgetPeriod::Month),
                ..Limits::default()
            },
            &[],
        )
        .await;
    assert_eq!(f.call(&key, "fast").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Settled to the actual cost (a few micro-dollars), so the budget still has room.
    assert_eq!(f.call(&key, "fast").await.status(), 200);

    tokio::time::sleep(Duration::from_millis(200)).await;
    let records = f.sink.records();
    assert_eq!(records.len(), 2);
    let r = &records[0];
    assert_eq!(r.requested_model, "fast");
    assert_eq!(r.provider.as_deref(), Some("mock"));
    assert_eq!(r.upstream_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(r.status, 200);
    assert!(r.key_id.is_some() && r.user_id.is_some());
    // The mock reports 2 prompt and 3 completion tokens for "hello there" → "echo: hello there".
    assert_eq!((r.usage.input, r.usage.output), (2, 3));
    // 2 × 0.15 + 3 × 0.60 = 2.1 micro-dollars, rounded half up.
    assert_eq!(r.cost_micros, Some(2));
}

#[tokio::test]
async fn a_spent_budget_refuses_with_budget_exceeded() {
    let f = Fixture::new().await;
    // Admitted while spending is under the budget: the first call (2 micro-dollars) spends it.
    let key = f
        .key(
            Limits {
                budget_micros: Some(2),
                budget_period: Some(store::BudgetPeriod::Total),
                ..Limits::default()
            },
            &[],
        )
        .await;
    assert_eq!(f.call(&key, "fast").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = f.call(&key, "fast").await;
    assert_eq!(refused.status(), 429);
    let err: Value = refused.json().await.unwrap();
    assert_eq!(err["error"]["code"], "budget_exceeded");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("budget"),
        "{err}"
    );
    assert_eq!(f.gw.mock.calls(), 1, "the refused call never went upstream");
}

#[tokio::test]
async fn revoking_the_last_key_does_not_open_the_gateway() {
    let f = Fixture::new().await;
    let key = f.key(Limits::default(), &[]).await;
    assert_eq!(f.call(&key, "fast").await.status(), 200);
    let listed = f
        .store
        .list_keys(&store::KeyFilter::default(), store::Page::new(10, 0))
        .await
        .unwrap();
    f.store
        .revoke_key(listed[0].id, store::now_millis())
        .await
        .unwrap();
    f.keys.refresh().await.unwrap();
    assert_eq!(
        f.call(&key, "fast").await.status(),
        401,
        "the revoked key is refused"
    );
    assert_eq!(
        f.gw.post("/v1/chat/completions", &chat("fast", "hi"))
            .await
            .status(),
        401,
        "and no key is not enough"
    );
}
