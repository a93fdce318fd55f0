//! The admin API's run-time resources over real sockets: providers and credentials
//! (secrets never returned), virtual models and combos, prices, usage after proxied calls,
//! request logs, and the OpenAPI document.

#![allow(clippy::unwrap_used)]

mod admin_fixture;
mod common;

use std::time::Duration;

use admin_fixture::{Fixture, assert_error};
use serde_json::{Value, json};

#[tokio::test]
async fn providers_and_credentials_never_return_secrets() {
    let f = Fixture::new().await;
    const SECRET: &str = "sk-upstream-very-secret-0123456789";
    let (status, p) = f
        .call(
            "POST",
            "/providers",
            Some(json!({ "id": "corp", "config": { "base_url": "https://llm.corp.example/v1" } })),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["source"], "store");
    let (status, bad) = f
        .call(
            "POST",
            "/providers",
            Some(json!({ "id": "x", "config": { "base_ulr": "y" } })),
        )
        .await;
    assert_eq!(status, 400);
    assert_error(&bad, "invalid_request_error", "invalid_provider");
    let (status, ro) = f
        .call(
            "POST",
            "/providers",
            Some(json!({ "id": "mock", "config": {} })),
        )
        .await;
    assert_eq!(status, 409);
    assert_error(&ro, "conflict_error", "read_only");

    let list = f.get("/providers").await;
    let ids: Vec<(&str, bool)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["read_only"].as_bool().unwrap()))
        .collect();
    assert!(
        ids.contains(&("mock", true)) && ids.contains(&("corp", false)),
        "{ids:?}"
    );
    assert_eq!(f.get("/providers/mock").await["source"], "config");
    assert!(
        !list.to_string().contains("sk-upstream-1"),
        "config keys stay hidden"
    );

    let (status, cred) = f
        .call(
            "POST",
            "/providers/corp/credentials",
            Some(json!({ "label": "primary", "secret": SECRET })),
        )
        .await;
    assert_eq!(status, 201, "{cred}");
    assert_eq!(cred["label"], "primary");
    let cid = cred["id"].as_str().unwrap().to_owned();
    let (status, _) = f
        .call(
            "POST",
            "/providers/mock/credentials",
            Some(json!({ "label": "2nd", "secret": SECRET })),
        )
        .await;
    assert_eq!(status, 201, "declared providers take credentials too");
    let (status, _) = f
        .call(
            "POST",
            "/providers/nope/credentials",
            Some(json!({ "label": "l", "secret": "s" })),
        )
        .await;
    assert_eq!(status, 404);
    let creds = f.get("/providers/corp/credentials").await;
    assert_eq!(creds["items"].as_array().unwrap().len(), 1);
    assert_eq!(creds["items"][0]["id"], cid.as_str());

    // Stored sealed, and still readable by the gateway itself.
    let cid_uuid = cid.parse().unwrap();
    let revealed = f
        .store
        .reveal_credential(&f.secrets, cid_uuid)
        .await
        .unwrap();
    assert_eq!(revealed.expose(), SECRET);
    let sealed = f.store.sealed_credential(cid_uuid).await.unwrap();
    assert!(!String::from_utf8_lossy(&sealed.ciphertext).contains(SECRET));

    let (status, _) = f
        .call(
            "DELETE",
            &format!("/providers/mock/credentials/{cid}"),
            None,
        )
        .await;
    assert_eq!(status, 404, "the credential belongs to corp");
    let (status, _) = f
        .call(
            "DELETE",
            &format!("/providers/corp/credentials/{cid}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        f.get("/providers/corp/credentials").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (status, _) = f.call("DELETE", "/providers/mock", None).await;
    assert_eq!(status, 409);
    let (status, _) = f.call("DELETE", "/providers/corp", None).await;
    assert_eq!(status, 200);
    let (status, _) = f.call("GET", "/providers/corp", None).await;
    assert_eq!(status, 404);

    assert_eq!(
        f.responses_containing(SECRET),
        0,
        "no admin response carried the secret"
    );
}

#[tokio::test]
async fn models_combos_and_prices_are_managed_at_run_time() {
    let f = Fixture::new().await;
    let combo = json!({ "name": "smart2", "kind": "combo",
        "definition": { "strategy": "fallback", "targets": ["mock/gpt-4o-mini", { "target": "fast", "weight": 2 }] } });
    let (status, m) = f.call("POST", "/models", Some(combo)).await;
    assert_eq!(status, 201, "{m}");
    assert_eq!(m["kind"], "combo");
    assert_eq!(m["read_only"], false);
    let (status, m) = f
        .call(
            "POST",
            "/models",
            Some(json!({ "name": "quick", "kind": "model",
            "definition": { "target": "mock/gpt-4o-mini", "params": { "temperature": 0 } } })),
        )
        .await;
    assert_eq!(status, 201, "{m}");
    for bad in [
        json!({ "name": "b", "kind": "model", "definition": { "targt": "x/y" } }),
        json!({ "name": "b", "kind": "model", "definition": {} }),
        json!({ "name": "b", "kind": "combo", "definition": { "targets": [] } }),
        json!({ "name": "b", "kind": "combo", "definition": "mock/x" }),
    ] {
        let (status, err) = f.call("POST", "/models", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} → {err}");
        assert_error(&err, "invalid_request_error", "invalid_model");
    }
    let (status, ro) = f
        .call(
            "POST",
            "/models",
            Some(json!({ "name": "fast", "kind": "model",
            "definition": { "target": "mock/x" } })),
        )
        .await;
    assert_eq!(status, 409);
    assert_error(&ro, "conflict_error", "read_only");

    let list = f.get("/models").await;
    let names: Vec<(&str, bool)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap(),
                m["read_only"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("fast", true), ("quick", false), ("smart2", false)]);
    assert_eq!(
        f.get("/models/fast").await["definition"]["target"],
        "mock/gpt-4o-mini"
    );
    assert_eq!(
        f.get("/models/smart2").await["definition"]["targets"][1]["weight"],
        2
    );
    let (status, _) = f.call("DELETE", "/models/fast", None).await;
    assert_eq!(status, 409);
    let (status, _) = f.call("DELETE", "/models/smart2", None).await;
    assert_eq!(status, 200);
    let (status, _) = f.call("GET", "/models/smart2", None).await;
    assert_eq!(status, 404);

    let price = json!({ "provider": "openrouter", "model": "anthropic/claude-3.5",
        "input_per_mtok_micros": 3_000_000, "output_per_mtok_micros": 15_000_000,
        "cache_read_per_mtok_micros": 300_000 });
    let (status, p) = f.call("PUT", "/prices", Some(price)).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["cache_write_per_mtok_micros"], 0);
    assert!(p["updated_at"].as_i64().unwrap() > 0);
    let (status, bad) = f
        .call(
            "PUT",
            "/prices",
            Some(json!({ "provider": "p", "model": "m",
            "input_per_mtok_micros": -1, "output_per_mtok_micros": 0 })),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    let prices = f.get("/prices").await;
    assert_eq!(prices["items"].as_array().unwrap().len(), 1);
    assert_eq!(prices["items"][0]["output_per_mtok_micros"], 15_000_000);
    let (status, _) = f
        .call("DELETE", "/prices/openrouter/anthropic/claude-3.5", None)
        .await;
    assert_eq!(status, 200, "model names may contain a slash");
    let (status, _) = f
        .call("DELETE", "/prices/openrouter/anthropic/claude-3.5", None)
        .await;
    assert_eq!(status, 404);
    assert!(
        f.get("/prices").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn usage_is_queryable_after_proxied_calls() {
    let f = Fixture::new().await;
    let user = f.user("Ada").await;
    let (_, created) = f
        .call(
            "POST",
            "/keys",
            Some(json!({ "user_id": user, "name": "k" })),
        )
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let key_id = created["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(f.chat_with(Some(&key)).await.status(), 200);
    }

    let path = format!("/usage/totals?key_id={key_id}");
    let mut totals = Value::Null;
    for _ in 0..250 {
        totals = f.get(&path).await;
        if totals["requests"] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(totals["requests"], 3, "{totals}");
    assert_eq!(totals["errors"], 0);
    assert!(totals["input_tokens"].as_u64().unwrap() > 0, "{totals}");
    assert!(totals["output_tokens"].as_u64().unwrap() > 0, "{totals}");
    assert!(
        totals["cost_micros"].as_i64().unwrap() > 0,
        "priced from the catalog: {totals}"
    );
    assert_eq!(
        f.get(&format!("/usage/totals?user_id={user}&model=fast"))
            .await["requests"],
        3
    );
    assert_eq!(f.get("/usage/totals?provider=nobody").await["requests"], 0);
    assert_eq!(
        f.get("/usage/totals?to=1").await["requests"],
        0,
        "before any usage"
    );

    let by_model = f.get("/usage/breakdown?by=model").await;
    assert_eq!(
        by_model["items"][0]["group"],
        json!({ "by": "model", "value": "fast" })
    );
    assert_eq!(by_model["items"][0]["totals"]["requests"], 3);
    let by_key = f.get("/usage/breakdown?by=key").await;
    assert_eq!(by_key["items"][0]["group"]["value"], key_id.as_str());
    let (status, err) = f.call("GET", "/usage/breakdown", None).await;
    assert_eq!(status, 400, "`by` is required: {err}");
    let (status, _) = f.call("GET", "/usage/breakdown?by=colour", None).await;
    assert_eq!(status, 400);

    let hourly = f.get("/usage/series?granularity=hour").await;
    let points = hourly["items"].as_array().unwrap();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0]["bucket"].as_i64().unwrap() % 3_600_000, 0);
    let daily = f.get("/usage/series?granularity=day&by=provider").await;
    assert_eq!(
        daily["items"][0]["group"],
        json!({ "by": "provider", "value": "mock" })
    );
    assert_eq!(
        daily["items"][0]["bucket"].as_i64().unwrap() % 86_400_000,
        0
    );

    let records = f
        .get(&format!("/usage/records?key_id={key_id}&limit=2"))
        .await;
    let items = records["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["requested_model"], "fast");
    assert_eq!(items[0]["provider"], "mock");
    assert_eq!(items[0]["status"], 200);
    let rest = f
        .get(&format!("/usage/records?key_id={key_id}&limit=2&offset=2"))
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);

    let logs = f.get("/logs?from=0").await;
    assert!(
        logs["items"].as_array().unwrap().is_empty(),
        "body logging is off"
    );
    assert!(
        f.get("/logs?request_id=nope").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.responses_containing(&key), 1);
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let f = Fixture::new().await;
    let resp = f.gw.get("/admin/api/openapi.json").await;
    assert_eq!(resp.status(), 200, "served without a token");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = resp.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/admin/api/v1/login",
        "/admin/api/v1/users",
        "/admin/api/v1/users/{id}",
        "/admin/api/v1/users/{id}/deposit",
        "/admin/api/v1/users/{id}/withdraw",
        "/admin/api/v1/users/{id}/credit-limit",
        "/admin/api/v1/users/{id}/ledger",
        "/admin/api/v1/keys",
        "/admin/api/v1/keys/{id}",
        "/admin/api/v1/keys/{id}/revoke",
        "/admin/api/v1/providers",
        "/admin/api/v1/providers/{id}",
        "/admin/api/v1/providers/{id}/credentials",
        "/admin/api/v1/providers/{id}/credentials/{cid}",
        "/admin/api/v1/models",
        "/admin/api/v1/models/{name}",
        "/admin/api/v1/prices",
        "/admin/api/v1/prices/{provider}/{model}",
        "/admin/api/v1/usage/totals",
        "/admin/api/v1/usage/breakdown",
        "/admin/api/v1/usage/series",
        "/admin/api/v1/usage/records",
        "/admin/api/v1/logs",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(paths["/admin/api/v1/keys"]["post"].is_object());
    assert!(paths["/admin/api/v1/users/{id}"]["patch"].is_object());
    assert_eq!(
        paths["/admin/api/v1/login"]["post"]["security"],
        json!([{}]),
        "login is open"
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let mut operation_ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    let count = operation_ids.len();
    operation_ids.sort_unstable();
    operation_ids.dedup();
    assert_eq!(operation_ids.len(), count, "operation ids are unique");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "UserDto",
        "CreatedKey",
        "ErrorBody",
        "TotalsDto",
        "NewCredentialRequest",
    ] {
        assert!(schemas.contains_key(schema), "{schema} missing");
    }
    // The same document, built in-process.
    let built = serde_json::to_value(gateway::admin::openapi()).unwrap();
    assert_eq!(built, doc);
}
