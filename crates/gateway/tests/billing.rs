//! Money accounting over a real SQLite store: users' balances reserved before each call and
//! charged after it (with the ledger to show for it), aborted streams charged for exactly
//! what was relayed, and in-memory budgets that survive a restart.
//!
//! Prices here are round: `mock/metered` costs 1 micro-dollar per input token and 2 per
//! output token. A request's reservation is its estimate: the body's bytes / 4 in, and
//! `max_tokens` out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::TestGateway;
use futures_util::StreamExt;
use gateway::auth::keys::KeyRegistry;
use gateway::limits::Limiter;
use gateway::state::Services;
use gateway::usage::{StoreSink, UsageWriter, WriterConfig, WriterTask};
use serde_json::{Value, json};
use store::{LedgerKind, Limits, NewApiKey, NewUser, Page, SecretBox, SecretKey, Store};
use testkit::{MockProvider, MockUsage, Reply};
use uuid::Uuid;

const MODEL: &str = "mock/metered";
const MAX_TOKENS: u64 = 100;

fn config(mock: &str) -> String {
    format!(
        r#"
[providers.mock]
base_url = "{mock}/v1"
auth = "bearer"
keys = ["sk-upstream-1"]
timeouts = {{ first_byte = "5s", idle = "5s", total = "20s" }}
[providers.mock.models."metered"]
input_price = 1.0
output_price = 2.0
"#
    )
}

/// The body of a chat request; its estimate is `len / 4` input tokens.
fn chat_body(text: &str, stream: bool) -> Value {
    json!({
        "model": MODEL,
        "messages": [{ "role": "user", "content": text }],
        "max_tokens": MAX_TOKENS,
        "stream": stream,
    })
}

fn estimated_input(body: &Value) -> u64 {
    (serde_json::to_vec(body).unwrap().len() / 4) as u64
}

/// The reservation of `body`: its estimated input at 1, `max_tokens` at 2.
fn reservation(body: &Value) -> i64 {
    i64::try_from(estimated_input(body) + 2 * MAX_TOKENS).unwrap()
}

struct Fixture {
    gw: TestGateway,
    store: Store,
    secrets: SecretBox,
    keys: Arc<KeyRegistry>,
    limiter: Limiter,
    admin_token: String,
    writer: Option<WriterTask>,
    dir: Option<tempfile::TempDir>,
}

impl Fixture {
    async fn new() -> Self {
        Self::in_dir(tempfile::tempdir().unwrap(), None).await
    }

    /// A gateway over the store in `dir` (its secrets kept across restarts), loading
    /// budgets and balances from it as the binary does at start.
    async fn in_dir(dir: tempfile::TempDir, secrets: Option<SecretBox>) -> Self {
        let mut f = Self::start(dir.path(), secrets, Limiter::memory()).await;
        f.dir = Some(dir);
        f
    }

    async fn start(dir: &std::path::Path, secrets: Option<SecretBox>, limiter: Limiter) -> Self {
        let store = Store::open_default(dir).await.unwrap();
        store.migrate().await.unwrap();
        let secrets = secrets.unwrap_or_else(|| {
            SecretBox::new(&SecretKey::generate(), &SecretKey::generate()).unwrap()
        });
        gateway::admin::ensure_admin_password_from(
            &store,
            Some(store::Secret::new("pw-for-tests".to_owned())),
        )
        .await
        .unwrap();
        let keys = Arc::new(
            KeyRegistry::load(store.clone(), secrets.clone())
                .await
                .unwrap(),
        );
        limiter
            .load_from_store(&store, &keys.subjects())
            .await
            .unwrap();
        let (usage, writer) = UsageWriter::start(
            StoreSink::shared(store.clone()),
            WriterConfig {
                interval: Duration::from_millis(20),
                ..WriterConfig::default()
            },
        );
        let services = Services {
            store: Some(store.clone()),
            secrets: Some(secrets.clone()),
            keys: Some(Arc::clone(&keys)),
            limiter: limiter.clone(),
            usage: Some(usage),
            ..Services::default()
        };
        let mock = MockProvider::start().await;
        let toml = config(&mock.url());
        let gw = TestGateway::with_services(mock, &toml, services).await;
        let login = gw
            .http
            .post(gw.url("/admin/api/v1/login"))
            .json(&json!({ "password": "pw-for-tests" }))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        let login: Value = login.json().await.unwrap();
        Self {
            gw,
            store,
            secrets,
            keys,
            limiter,
            admin_token: login["token"].as_str().unwrap().to_owned(),
            writer: Some(writer),
            dir: None,
        }
    }

    /// A user with one key (with `limits`); the user's id and the key.
    async fn user_with_key(&self, limits: Limits) -> (Uuid, String) {
        let user = self
            .store
            .create_user(&NewUser::member("payer"))
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
                allowed_models: Vec::new(),
                limits,
            })
            .await
            .unwrap();
        self.keys.refresh().await.unwrap();
        (user.id, generated.plaintext.expose().clone())
    }

    /// A balance operation through the admin API.
    async fn balance_op(&self, user: Uuid, op: &str, body: Value) -> Value {
        let resp = self
            .gw
            .http
            .post(self.gw.url(&format!("/admin/api/v1/users/{user}/{op}")))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    async fn deposit(&self, user: Uuid, micros: i64) -> Value {
        self.balance_op(user, "deposit", json!({ "amount_micros": micros }))
            .await
    }

    async fn send(&self, key: &str, request_id: &str, body: &Value) -> reqwest::Response {
        self.gw
            .http
            .post(self.gw.url("/v1/chat/completions"))
            .bearer_auth(key)
            .header("x-request-id", request_id)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// The gateway's charges to `user`, oldest first, once `n` of them are written.
    async fn charges(&self, user: Uuid, n: usize) -> Vec<store::LedgerEntry> {
        for _ in 0..200 {
            let mut charges: Vec<_> = self
                .store
                .list_ledger(user, Page::new(1000, 0))
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.kind == LedgerKind::Charge)
                .collect();
            if charges.len() >= n {
                charges.reverse();
                return charges;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("fewer than {n} charges were written");
    }

    /// The stored usage record of `request_id`, once written.
    async fn usage(&self, request_id: &str) -> store::UsageRecord {
        for _ in 0..200 {
            let all = self
                .store
                .list_usage(&store::UsageQuery::between(0, i64::MAX), Page::new(1000, 0))
                .await
                .unwrap();
            if let Some(r) = all.into_iter().find(|r| r.request_id == request_id) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no usage record for {request_id}");
    }

    /// Stops the gateway and drains its usage writer; the data directory lives on.
    async fn stop(mut self) -> (tempfile::TempDir, SecretBox) {
        let writer = self.writer.take().unwrap();
        self.gw.shutdown().await.unwrap();
        drop(writer);
        self.limiter.shutdown().await;
        (self.dir.unwrap(), self.secrets)
    }
}

/// The upstream answers every request with usage equal to the request's estimate, so each
/// call costs exactly its reservation.
fn answer_at_the_estimate(mock: &MockProvider, body: &Value) {
    mock.set_default(Reply::Text {
        content: "fine".into(),
        usage: Some(MockUsage {
            prompt_tokens: estimated_input(body),
            completion_tokens: MAX_TOKENS,
            ..MockUsage::default()
        }),
    });
}

#[tokio::test]
async fn a_small_balance_is_never_overspent_and_a_deposit_reopens_it() {
    let f = Fixture::new().await;
    let (user, key) = f.user_with_key(Limits::default()).await;
    let body = chat_body("how much is left?", false);
    let cost = reservation(&body);
    answer_at_the_estimate(&f.gw.mock, &body);
    // Room for exactly four calls.
    let balance = 4 * cost + cost / 2;
    f.deposit(user, balance).await;

    let calls = (0..20).map(|i| {
        let (f, key, body) = (&f, &key, &body);
        async move {
            let resp = f.send(key, &format!("req-{i}"), body).await;
            (
                format!("req-{i}"),
                resp.status().as_u16(),
                resp.text().await.unwrap(),
            )
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let ok: Vec<&String> = results
        .iter()
        .filter(|(_, s, _)| *s == 200)
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(ok.len(), 4, "{results:?}");
    for (_, status, text) in results.iter().filter(|(_, s, _)| *s != 200) {
        assert_eq!(*status, 402, "{text}");
        let err: Value = serde_json::from_str(text).unwrap();
        assert_eq!(err["error"]["type"], "insufficient_quota", "{err}");
        assert_eq!(err["error"]["code"], "insufficient_balance", "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("user '{user}'")), "{message}");
    }
    assert_eq!(f.gw.mock.calls(), 4, "refused requests never went upstream");

    // One charge per admitted request, with its request id, for its actual cost.
    let charges = f.charges(user, 4).await;
    assert_eq!(charges.len(), 4);
    let mut ids: Vec<&str> = charges
        .iter()
        .map(|c| c.request_id.as_deref().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want: Vec<&str> = ok.iter().map(|s| s.as_str()).collect();
    want.sort_unstable();
    assert_eq!(ids, want);
    for c in &charges {
        assert_eq!(c.amount, -cost);
        assert_eq!(c.actor.as_deref(), Some("gateway"));
    }
    assert_eq!(
        f.store.balance(user).await.unwrap().cash,
        balance - 4 * cost
    );

    // The next one is refused, naming the balance and what it needs…
    let refused = f.send(&key, "req-poor", &body).await;
    assert_eq!(refused.status(), 402);
    let err: Value = refused.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    let money = |m: i64| format!("0.{:06}", m).trim_end_matches('0').to_owned();
    assert!(
        message.contains(&format!("{} available", money(cost / 2)))
            && message.contains(&format!("needs up to {}", money(cost))),
        "{message}"
    );
    // …until a deposit through the admin API.
    let after = f.deposit(user, 2 * cost).await;
    assert_eq!(after["cash_micros"], json!(2 * cost + cost / 2));
    assert_eq!(f.send(&key, "req-again", &body).await.status(), 200);
    let charges = f.charges(user, 5).await;
    assert_eq!(charges[4].request_id.as_deref(), Some("req-again"));
}

#[tokio::test]
async fn a_failed_upstream_call_charges_nothing() {
    let f = Fixture::new().await;
    let (user, key) = f.user_with_key(Limits::default()).await;
    f.deposit(user, 10_000).await;
    f.gw.mock.set_default(Reply::status(500));
    let body = chat_body("fail please", false);
    let resp = f.send(&key, "req-failed", &body).await;
    assert!(resp.status().is_server_error(), "{}", resp.status());
    let record = f.usage("req-failed").await;
    assert_eq!(record.cost_micros, 0);
    // The reservation is released in full and nothing reaches the ledger.
    for _ in 0..100 {
        if f.limiter.available_balance(&user.to_string()) == Some(10_000) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(f.limiter.available_balance(&user.to_string()), Some(10_000));
    let ledger = f.store.list_ledger(user, Page::new(100, 0)).await.unwrap();
    assert_eq!(ledger.len(), 1, "only the deposit: {ledger:?}");
    assert_eq!(f.store.balance(user).await.unwrap().cash, 10_000);
}

#[tokio::test]
async fn a_credit_limit_allows_debt_up_to_it() {
    let f = Fixture::new().await;
    let (user, key) = f.user_with_key(Limits::default()).await;
    let body = chat_body("on credit", false);
    let cost = reservation(&body);
    answer_at_the_estimate(&f.gw.mock, &body);
    // No cash, credit for two calls and a half.
    f.balance_op(
        user,
        "credit-limit",
        json!({ "credit_limit_micros": 2 * cost + cost / 2 }),
    )
    .await;
    assert_eq!(f.send(&key, "c-1", &body).await.status(), 200);
    assert_eq!(f.send(&key, "c-2", &body).await.status(), 200);
    let refused = f.send(&key, "c-3", &body).await;
    assert_eq!(refused.status(), 402);
    let charges = f.charges(user, 2).await;
    assert_eq!(
        charges[1].balance_after,
        -2 * cost,
        "in debt, within the credit"
    );
    assert_eq!(f.store.balance(user).await.unwrap().cash, -2 * cost);
}

#[tokio::test]
async fn users_whose_balance_was_never_touched_are_not_billed() {
    let f = Fixture::new().await;
    let (user, key) = f.user_with_key(Limits::default()).await;
    let body = chat_body("free as before", false);
    for i in 0..3 {
        assert_eq!(
            f.send(&key, &format!("free-{i}"), &body).await.status(),
            200
        );
    }
    assert!(f.usage("free-2").await.cost_micros > 0);
    assert!(
        f.store
            .list_ledger(user, Page::new(10, 0))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.store.balance(user).await.unwrap().cash, 0);
}

/// Reads SSE events from `resp` until `n` chunks with content have arrived; the text.
async fn read_content_chunks(resp: reqwest::Response, n: usize) -> String {
    let mut body = resp.bytes_stream();
    let mut decoder = wire::sse::SseDecoder::new();
    let (mut seen, mut text) = (0, String::new());
    while seen < n {
        let piece = body.next().await.expect("stream ended early").unwrap();
        decoder.push(&piece);
        while let Some(event) = decoder.next_event().unwrap() {
            let Ok(chunk) = serde_json::from_str::<Value>(&event.data) else {
                continue;
            };
            if let Some(content) = chunk["choices"][0]["delta"]["content"].as_str()
                && !content.is_empty()
            {
                seen += 1;
                text.push_str(content);
            }
        }
    }
    text
}

#[tokio::test]
async fn a_stream_the_client_drops_is_charged_for_the_chunks_it_got() {
    let f = Fixture::new().await;
    let (user, key) = f.user_with_key(Limits::default()).await;
    f.deposit(user, 1_000_000).await;
    // One token per chunk in o200k_base; the usage would only come after the last one.
    f.gw.mock.push(Reply::Stream {
        chunks: [
            "Hello", " there", " my", " friend", " and", " more", " words",
        ]
        .map(String::from)
        .to_vec(),
        delay_ms: 400,
    });
    let body = chat_body("tell me something", true);
    let resp = f.send(&key, "req-dropped", &body).await;
    assert_eq!(resp.status(), 200);
    let text = read_content_chunks(resp, 3).await;
    assert_eq!(text, "Hello there my");
    // The client goes away (the response is dropped, closing the connection).

    let record = f.usage("req-dropped").await;
    let input = estimated_input(&body);
    assert_eq!((record.input_tokens, record.output_tokens), (input, 3));
    let cost = i64::try_from(input + 2 * 3).unwrap();
    assert_eq!(record.cost_micros, cost);
    let charges = f.charges(user, 1).await;
    assert_eq!(charges[0].amount, -cost);
    assert_eq!(charges[0].request_id.as_deref(), Some("req-dropped"));
}

#[tokio::test]
async fn a_stream_the_upstream_cuts_is_charged_for_what_was_relayed() {
    let f = Fixture::new().await;
    let (user, key) = f.user_with_key(Limits::default()).await;
    f.deposit(user, 1_000_000).await;
    f.gw.mock.push(Reply::DropMidStream { after_chunks: 4 });
    let body = chat_body("hi", true);
    let resp = f.send(&key, "req-cut", &body).await;
    assert_eq!(resp.status(), 200);
    let events = common::sse_data(resp).await;
    let text: String = events
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect();
    // The mock echoes the prompt, padded to four chunks.
    assert_eq!(text, "echo: hilorem lorem ");
    let output = tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(&text)
        .len() as u64;

    let record = f.usage("req-cut").await;
    let input = estimated_input(&body);
    assert_eq!((record.input_tokens, record.output_tokens), (input, output));
    let cost = i64::try_from(input + 2 * output).unwrap();
    assert_eq!(record.cost_micros, cost);
    let charges = f.charges(user, 1).await;
    assert_eq!(charges[0].amount, -cost);
}

#[tokio::test]
async fn a_daily_budget_is_still_spent_after_a_restart() {
    let f = Fixture::new().await;
    let body = chat_body("spend it", false);
    let cost = reservation(&body);
    answer_at_the_estimate(&f.gw.mock, &body);
    // Admitted while spent < limit: two calls spend it.
    let (_, key) = f
        .user_with_key(Limits {
            budget_micros: Some(2 * cost - 1),
            budget_period: Some(store::BudgetPeriod::Day),
            ..Limits::default()
        })
        .await;
    assert_eq!(f.send(&key, "b-1", &body).await.status(), 200);
    assert_eq!(f.send(&key, "b-2", &body).await.status(), 200);
    assert_eq!(f.send(&key, "b-3", &body).await.status(), 429);
    f.usage("b-2").await;

    let (dir, secrets) = f.stop().await;
    let f = Fixture::in_dir(dir, Some(secrets)).await;
    answer_at_the_estimate(&f.gw.mock, &body);
    let refused = f.send(&key, "b-4", &body).await;
    assert_eq!(
        refused.status(),
        429,
        "a restart does not refill the budget"
    );
    let err: Value = refused.json().await.unwrap();
    assert_eq!(err["error"]["code"], "budget_exceeded");
    assert_eq!(f.gw.mock.calls(), 0);
}

#[tokio::test]
async fn two_instances_sharing_redis_never_overspend_one_balance() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_REDIS_URL") else {
        eprintln!("SKIPPED two_instances_sharing_redis: SWITCHBOARD_TEST_REDIS_URL is not set");
        return;
    };
    let prefix = format!("sbtest:billing:{}", Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let redis_limiter = || async { Limiter::with_redis(&url, &prefix).await.unwrap() };
    let a = Fixture::start(dir.path(), None, redis_limiter().await).await;
    let (user, key) = a.user_with_key(Limits::default()).await;
    let body = chat_body("shared", false);
    let cost = reservation(&body);
    a.store
        .deposit(user, 4 * cost + cost / 2, &store::Audit::by("admin"))
        .await
        .unwrap();
    a.limiter.refresh_balance(&a.store, user).await.unwrap();
    let b = Fixture::start(dir.path(), Some(a.secrets.clone()), redis_limiter().await).await;
    answer_at_the_estimate(&a.gw.mock, &body);
    answer_at_the_estimate(&b.gw.mock, &body);

    let calls = (0..20).map(|i| {
        let (f, key, body) = (if i % 2 == 0 { &a } else { &b }, &key, &body);
        async move { f.send(key, &format!("r-{i}"), body).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(calls).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(
        ok, 4,
        "both instances together spend the balance once: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 402),
        "{statuses:?}"
    );
    assert_eq!(a.gw.mock.calls() + b.gw.mock.calls(), 4);
    let charges = a.charges(user, 4).await;
    assert_eq!(charges.len(), 4);
    assert_eq!(a.store.balance(user).await.unwrap().cash, cost / 2);

    // A deposit seen by one instance's refresh is usable through the other after its own.
    a.store
        .deposit(user, cost, &store::Audit::by("admin"))
        .await
        .unwrap();
    b.limiter.refresh_balance(&b.store, user).await.unwrap();
    assert_eq!(b.send(&key, "r-more", &body).await.status(), 200);
    assert_eq!(b.send(&key, "r-none", &body).await.status(), 402);

    let mut conn = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query(&mut conn)
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query(&mut conn).unwrap();
    }
}
