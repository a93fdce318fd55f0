//! Routing entries created through the admin API take effect at once: stored providers with
//! their sealed credentials, virtual models, combos and price overrides route (and price)
//! requests like the config file's; "test connection" and "discover" talk to the upstream.
//! Every test runs a real gateway (SQLite store) in front of the mock provider.

#![allow(clippy::unwrap_used)]

mod admin_fixture;
mod common;

use std::time::Duration;

use admin_fixture::{Fixture, assert_error};
use common::chat;
use serde_json::{Value, json};
use testkit::{MockProvider, Reply, RequiredBearer};

const SECRET: &str = "sk-stored-upstream-0123456789abcdef";

/// A chat completion through the gateway: the status and the JSON body.
async fn ask(f: &Fixture, model: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    let resp = f.gw.post("/v1/chat/completions", &chat(model, "hi")).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap(), headers)
}

/// Creates stored provider `id` in front of `mock`.
async fn add_provider(f: &Fixture, id: &str, mock: &MockProvider, extra: Value) {
    let mut config = json!({ "base_url": mock.openai_base() });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    let (status, body) = f
        .call(
            "POST",
            "/providers",
            Some(json!({ "id": id, "config": config })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn add_credential(f: &Fixture, provider: &str, secret: &str) -> String {
    let (status, body) = f
        .call(
            "POST",
            &format!("/providers/{provider}/credentials"),
            Some(json!({ "label": "main", "secret": secret })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_stored_provider_routes_with_its_decrypted_credential_until_deleted() {
    let f = Fixture::new().await;
    let up = MockProvider::start().await;
    up.require_bearer(Some(RequiredBearer::Token(SECRET.into())));

    add_provider(&f, "up", &up, json!({})).await;
    let p = f.get("/providers/up").await;
    assert_eq!(p["active"], false, "no credential yet: {p}");
    assert!(
        p["error"].as_str().unwrap().contains("no credential"),
        "{p}"
    );
    let (status, body, _) = ask(&f, "up/some-model").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "model_not_found");

    add_credential(&f, "up", SECRET).await;
    assert_eq!(f.get("/providers/up").await["active"], true);
    let (status, body, headers) = ask(&f, "up/some-model").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["model"], "up/some-model",
        "the name the client asked for"
    );
    assert_eq!(headers["x-switchboard-provider"], "up");
    let seen = up.last_request().unwrap();
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(seen.json().unwrap()["model"], "some-model");
    assert_eq!(f.gw.mock.calls(), 0, "the file's provider was not used");

    // A bare model name the stored provider lists resolves to it too.
    let (status, _) = f
        .call(
            "POST",
            "/providers",
            Some(json!({ "id": "up", "config": {
                "base_url": up.openai_base(),
                "models": { "only-up-has-this": { "context_window": 4096 } },
            } })),
        )
        .await;
    assert_eq!(status, 201, "replacing the config");
    let (status, body, _) = ask(&f, "only-up-has-this").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(up.calls(), 2);

    let (status, _) = f.call("DELETE", "/providers/up", None).await;
    assert_eq!(status, 200);
    let (status, body, _) = ask(&f, "up/some-model").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "model_not_found");
    assert_eq!(up.calls(), 2, "nothing reached the deleted provider");
    assert_eq!(f.responses_containing(SECRET), 0);
}

#[tokio::test]
async fn stored_virtual_models_and_combos_route_and_fall_back() {
    let f = Fixture::new().await;
    let up = MockProvider::start().await;
    add_provider(&f, "up", &up, json!({ "auth": "none" })).await;

    let (status, m) = f
        .call(
            "POST",
            "/models",
            Some(json!({ "name": "mine", "kind": "model",
                "definition": { "target": "up/m1", "params": { "temperature": 0.5 } } })),
        )
        .await;
    assert_eq!(status, 201, "{m}");
    assert_eq!(m["active"], true);
    let (status, body, headers) = ask(&f, "mine").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "mine");
    assert_eq!(headers["x-switchboard-route"], "virtual");
    let sent = up.last_request().unwrap().json().unwrap();
    assert_eq!(sent["model"], "m1");
    assert_eq!(sent["temperature"], 0.5);

    // A combo over the stored provider, then the file's: the first fails, the second answers.
    let (status, c) = f
        .call(
            "POST",
            "/models",
            Some(json!({ "name": "duo", "kind": "combo",
                "definition": { "strategy": "fallback", "targets": ["up/first", "fast"] } })),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    up.push(Reply::status(500));
    let (status, body, headers) = ask(&f, "duo").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "duo");
    assert_eq!(headers["x-switchboard-provider"], "mock");
    assert_eq!(headers["x-switchboard-attempts"], "2");
    assert_eq!(up.calls(), 2, "the first target was tried");
    assert_eq!(
        f.gw.mock.last_request().unwrap().json().unwrap()["model"],
        "gpt-4o-mini"
    );

    // An entry that cannot be resolved is kept, reported, and does not disturb the rest.
    for (name, targets) in [("loop-a", ["loop-b"]), ("loop-b", ["loop-a"])] {
        let (status, body) = f
            .call(
                "POST",
                "/models",
                Some(
                    json!({ "name": name, "kind": "combo", "definition": { "targets": targets } }),
                ),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let listed = f.get("/models").await;
    let entry = |name: &str| {
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(entry("loop-a")["active"], false);
    assert_eq!(entry("loop-b")["active"], false);
    assert!(
        [entry("loop-a"), entry("loop-b")]
            .iter()
            .any(|e| e["error"].as_str().unwrap().contains("cycle")),
        "{listed}"
    );
    assert_eq!(entry("duo")["active"], true);
    assert_eq!(ask(&f, "duo").await.0, 200);

    // The file's names stay read-only.
    let (status, body) = f
        .call(
            "POST",
            "/models",
            Some(json!({ "name": "fast", "kind": "model", "definition": { "target": "up/x" } })),
        )
        .await;
    assert_eq!(status, 409);
    assert_error(&body, "conflict_error", "read_only");

    let (status, _) = f.call("DELETE", "/models/mine", None).await;
    assert_eq!(status, 200);
    let (status, body, _) = ask(&f, "mine").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "model_not_found");
}

/// The newest usage record, once `n` have been written.
async fn newest_record(f: &Fixture, n: usize) -> Value {
    for _ in 0..250 {
        let records = f.get("/usage/records?limit=100").await;
        let items = records["items"].as_array().unwrap();
        if items.len() >= n {
            return items[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("fewer than {n} usage records");
}

async fn listed_pricing(f: &Fixture, id: &str) -> Value {
    let models: Value = f.gw.get("/v1/models").await.json().await.unwrap();
    models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .map(|m| m["pricing"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_stored_price_changes_the_recorded_cost_and_the_listing() {
    let f = Fixture::new().await;
    // The config file's price: $0.15 in, $0.60 out per million tokens.
    assert_eq!(listed_pricing(&f, "mock/gpt-4o-mini").await["input"], 0.15);
    let (status, _, _) = ask(&f, "mock/gpt-4o-mini").await;
    assert_eq!(status, 200);
    let before = newest_record(&f, 1).await;
    let (input, output) = (
        before["input_tokens"].as_i64().unwrap(),
        before["output_tokens"].as_i64().unwrap(),
    );
    assert!(input > 0 && output > 0, "{before}");
    // A few tokens at fractions of a micro-dollar each round to almost nothing.
    assert!(before["cost_micros"].as_i64().unwrap() < 10, "{before}");

    // $1000 in and $2000 out per million tokens: a micro-dollar-exact cost per token.
    let (status, body) = f
        .call(
            "PUT",
            "/prices",
            Some(json!({ "provider": "mock", "model": "gpt-4o-mini",
                "input_per_mtok_micros": 1_000_000_000_i64,
                "output_per_mtok_micros": 2_000_000_000_i64 })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let pricing = listed_pricing(&f, "mock/gpt-4o-mini").await;
    assert_eq!(pricing["input"], 1000.0, "{pricing}");
    assert_eq!(pricing["output"], 2000.0, "{pricing}");

    let (status, _, _) = ask(&f, "mock/gpt-4o-mini").await;
    assert_eq!(status, 200);
    let after = newest_record(&f, 2).await;
    assert_eq!(after["input_tokens"], input, "the same prompt");
    assert_eq!(
        after["cost_micros"].as_i64().unwrap(),
        input * 1000 + after["output_tokens"].as_i64().unwrap() * 2000,
        "{after}"
    );

    // A price for a model nobody described makes it listed and priced.
    let (status, _) = f
        .call(
            "PUT",
            "/prices",
            Some(json!({ "provider": "mock", "model": "brand-new",
                "input_per_mtok_micros": 500_000, "output_per_mtok_micros": 700_000 })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed_pricing(&f, "mock/brand-new").await["output"], 0.7);

    let (status, _) = f.call("DELETE", "/prices/mock/gpt-4o-mini", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        listed_pricing(&f, "mock/gpt-4o-mini").await["input"],
        0.15,
        "the file's price again"
    );
}

#[tokio::test]
async fn test_connection_reports_success_and_upstream_refusals() {
    let f = Fixture::new().await;
    let up = MockProvider::start().await;
    up.require_bearer(Some(RequiredBearer::Token(SECRET.into())));
    add_provider(&f, "up", &up, json!({})).await;

    let (status, body) = f.call("POST", "/providers/up/test", None).await;
    assert_eq!(status, 409, "stored but without a credential: {body}");
    assert_error(&body, "conflict_error", "inactive_provider");

    let wrong = add_credential(&f, "up", "sk-wrong-key-000000").await;
    let (status, test) = f.call("POST", "/providers/up/test", None).await;
    assert_eq!(
        status, 200,
        "an upstream refusal is reported, not ours: {test}"
    );
    assert_eq!(test["ok"], false);
    assert_eq!(test["status"], 401);
    assert!(test["error"].as_str().unwrap().contains("401"), "{test}");
    assert!(test["latency_ms"].is_u64());
    let seen = up.last_request().unwrap();
    assert_eq!(seen.path, "/v1/models");
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer sk-wrong-key-000000")
    );

    let (status, _) = f
        .call(
            "DELETE",
            &format!("/providers/up/credentials/{wrong}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    add_credential(&f, "up", SECRET).await;
    let (status, test) = f.call("POST", "/providers/up/test", None).await;
    assert_eq!(status, 200);
    assert_eq!(test["ok"], true, "{test}");
    assert_eq!(test["status"], 200);
    assert_eq!(test["models"], 4);
    assert!(test.get("error").is_none());

    // The config file's providers can be tested too.
    let (_, test) = f.call("POST", "/providers/mock/test", None).await;
    assert_eq!(test["ok"], true, "{test}");

    // Nobody listening: no status, the reason.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let (status, _) = f
        .call(
            "POST",
            "/providers",
            Some(json!({ "id": "dead", "config": { "base_url": format!("http://{dead}/v1"), "auth": "none" } })),
        )
        .await;
    assert_eq!(status, 201);
    let (_, test) = f.call("POST", "/providers/dead/test", None).await;
    assert_eq!(test["ok"], false);
    assert_eq!(test["status"], Value::Null);
    assert!(!test["error"].as_str().unwrap().is_empty(), "{test}");

    let (status, body) = f.call("POST", "/providers/nope/test", None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(f.responses_containing(SECRET), 0);

    let doc = f.get("/admin/api/openapi.json").await;
    for path in ["/providers/{id}/test", "/providers/{id}/discover"] {
        assert!(
            doc["paths"][format!("/admin/api/v1{path}")]["post"].is_object(),
            "{path} documented"
        );
    }
}

#[tokio::test]
async fn discover_lists_the_upstream_models_and_saves_them() {
    let f = Fixture::new().await;
    let up = MockProvider::start().await;
    add_provider(
        &f,
        "up",
        &up,
        json!({ "auth": "none", "models": { "mock-model": { "context_window": 1234 } } }),
    )
    .await;

    let (status, found) = f.call("POST", "/providers/up/discover", None).await;
    assert_eq!(status, 200, "{found}");
    let ids: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "gpt-4o",
            "gpt-4o-mini",
            "text-embedding-3-small",
            "mock-model"
        ]
    );
    assert_eq!(found["saved"], false);
    let stored = f.get("/providers/up").await;
    assert_eq!(stored["config"]["models"].as_object().unwrap().len(), 1);

    let (status, found) = f
        .call("POST", "/providers/up/discover?save=true", None)
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["saved"], true);
    let stored = f.get("/providers/up").await;
    let models = stored["config"]["models"].as_object().unwrap();
    assert_eq!(models.len(), 4, "{stored}");
    assert_eq!(
        models["mock-model"]["context_window"], 1234,
        "what was set stays"
    );
    let listed: Value = f.gw.get("/v1/models").await.json().await.unwrap();
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "up/text-embedding-3-small"),
        "{listed}"
    );

    // The config file's providers: listed, not saved.
    let (status, found) = f.call("POST", "/providers/mock/discover", None).await;
    assert_eq!(status, 200);
    assert_eq!(found["items"].as_array().unwrap().len(), 4);
    let (status, body) = f
        .call("POST", "/providers/mock/discover?save=true", None)
        .await;
    assert_eq!(status, 409);
    assert_error(&body, "conflict_error", "read_only");

    // An upstream that refuses is a 502 naming why.
    up.require_bearer(Some(RequiredBearer::Token("other".into())));
    let (status, body) = f.call("POST", "/providers/up/discover", None).await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("401"),
        "{body}"
    );
}

/// `postgres://user@host:port/db?opts` with `db` replaced.
fn with_database(url: &str, db: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((main, query)) => (main, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = main.find("://").map_or(0, |i| i + 3);
    let base = match main[authority_start..].find('/') {
        Some(slash) => &main[..authority_start + slash],
        None => main,
    };
    format!("{base}/{db}{query}")
}

/// The same routing path on PostgreSQL: a gateway whose store is a fresh PostgreSQL
/// database (created here, dropped afterwards) applies a stored provider, credential,
/// combo and price. Skipped, loudly, without `SWITCHBOARD_TEST_DATABASE_URL`.
#[tokio::test]
async fn stored_routing_applies_on_postgres_too() {
    use futures_util::FutureExt as _;
    use sqlx::Connection as _;

    let Some(base) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED admin_routing postgres: SWITCHBOARD_TEST_DATABASE_URL is not set"
        );
        return;
    };
    let db = format!("sb_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{db}\"")))
        .execute(&mut admin)
        .await
        .unwrap();
    let outcome = std::panic::AssertUnwindSafe(routes_on(with_database(&base, &db)))
        .catch_unwind()
        .await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn routes_on(url: String) {
    let store = store::Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let secrets =
        store::SecretBox::new(&store::SecretKey::generate(), &store::SecretKey::generate())
            .unwrap();
    let token = gateway::admin::mint_admin_token(&secrets, Duration::from_secs(600)).unwrap();
    let services = gateway::state::Services {
        store: Some(store.clone()),
        secrets: Some(secrets),
        ..gateway::state::Services::default()
    };
    let mock = MockProvider::start().await;
    let toml = common::base_config(&mock.url());
    let gw = common::TestGateway::with_services(mock, &toml, services).await;
    let up = MockProvider::start().await;
    up.require_bearer(Some(RequiredBearer::Token(SECRET.into())));
    let call = |method: &str, path: &str, body: Value| {
        gw.http
            .request(
                method.parse().unwrap(),
                gw.url(&format!("/admin/api/v1{path}")),
            )
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    for (method, path, body) in [
        (
            "POST",
            "/providers",
            json!({ "id": "up", "config": { "base_url": up.openai_base() } }),
        ),
        (
            "POST",
            "/providers/up/credentials",
            json!({ "label": "main", "secret": SECRET }),
        ),
        (
            "POST",
            "/models",
            json!({ "name": "duo", "kind": "combo",
                "definition": { "targets": ["up/first", "mock/gpt-4o-mini"] } }),
        ),
        (
            "PUT",
            "/prices",
            json!({ "provider": "up", "model": "first",
                "input_per_mtok_micros": 3_000_000, "output_per_mtok_micros": 4_000_000 }),
        ),
    ] {
        let resp = call(method, path, body).await.unwrap();
        assert!(
            resp.status().is_success(),
            "{method} {path}: {}",
            resp.status()
        );
    }

    let resp = gw.post("/v1/chat/completions", &chat("duo", "hi")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchboard-provider"], "up");
    assert_eq!(
        up.last_request().unwrap().header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    let models: Value = gw.get("/v1/models").await.json().await.unwrap();
    let first = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "up/first")
        .cloned()
        .unwrap();
    assert_eq!(first["pricing"]["input"], 3.0, "{first}");

    let resp = call("DELETE", "/providers/up", Value::Null).await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = gw
        .post("/v1/chat/completions", &chat("up/first", "hi"))
        .await;
    assert_eq!(resp.status(), 404);
    drop(gw);
    store.close().await;
}
