//! The admin API over real sockets, with a SQLite store in a temp dir: login and tokens,
//! every route guarded, users, balances and the ledger, and keys used end to end.

#![allow(clippy::unwrap_used)]

mod admin_fixture;
mod common;

use std::time::Duration;

use admin_fixture::{Fixture, assert_error};
use common::TestGateway;
use serde_json::{Value, json};
use store::{SecretBox, SecretKey};

#[tokio::test]
async fn login_trades_the_password_for_a_token() {
    let f = Fixture::new().await;
    let (status, body) = f
        .call_as(
            None,
            "POST",
            "/login",
            Some(json!({ "password": "wrong password" })),
        )
        .await;
    assert_eq!(status, 401);
    assert_error(&body, "authentication_error", "invalid_password");

    let (status, body) = f
        .call_as(
            None,
            "POST",
            "/login",
            Some(json!({ "password": f.password })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 12 * 3600);
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    let (status, _) = f.call_as(Some(token), "GET", "/users", None).await;
    assert_eq!(status, 200);

    let (status, body) = f
        .call_as(None, "POST", "/login", Some(json!({ "pass": "x" })))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_error(&body, "invalid_request_error", "invalid_json");
}

#[tokio::test]
async fn every_admin_route_needs_a_valid_token() {
    let f = Fixture::new().await;
    let doc = f.get("/admin/api/openapi.json").await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.ends_with("/login") {
            continue;
        }
        let concrete = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{cid}", "00000000-0000-0000-0000-000000000000")
            .replace("{name}", "x")
            .replace("{provider}", "p")
            .replace("{model}", "m/n");
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let body = Some(json!({}));
            for token in [None, Some("not-a-token"), Some("a.b.c")] {
                let (status, resp) = f.call_as(token, &method, &concrete, body.clone()).await;
                assert_eq!(status, 401, "{method} {concrete} with {token:?}: {resp}");
                let code = if token.is_some() {
                    "invalid_token"
                } else {
                    "missing_token"
                };
                assert_error(&resp, "authentication_error", code);
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} routes in the document");
    // A token signed with another server's secret is refused too.
    let other = SecretBox::new(&SecretKey::generate(), &SecretKey::generate()).unwrap();
    let foreign = gateway::admin::mint_admin_token(&other, Duration::from_secs(60)).unwrap();
    let (status, _) = f.call_as(Some(&foreign), "GET", "/users", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn without_a_store_the_admin_api_says_so() {
    let gw = TestGateway::start().await;
    let resp = gw
        .post("/admin/api/v1/login", &json!({ "password": "whatever1" }))
        .await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_error(&body, "unavailable_error", "store_unavailable");
}

#[tokio::test]
async fn users_are_created_listed_paged_updated_and_deleted() {
    let f = Fixture::new().await;
    let (status, ada) = f
        .call(
            "POST",
            "/users",
            Some(
                json!({ "name": "Ada", "email": "ada@example.com", "role": "admin",
                          "limits": { "rpm": 60 } }),
            ),
        )
        .await;
    assert_eq!(status, 201, "{ada}");
    assert_eq!(ada["role"], "admin");
    assert_eq!(ada["limits"]["rpm"], 60);
    assert_eq!(ada["balance_cash_micros"], 0);
    let ada_id = ada["id"].as_str().unwrap();
    f.user("Grace").await;
    f.user("Alan").await;

    let page1 = f.get("/users?limit=2").await;
    assert_eq!(page1["total"], 3);
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    assert_eq!(page1["items"][0]["name"], "Ada", "oldest first");
    let page2 = f.get("/users?limit=2&offset=2").await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["items"][0]["name"], "Alan");
    let found = f.get("/users?name=RAC").await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["name"], "Grace");

    let (status, dup) = f
        .call(
            "POST",
            "/users",
            Some(json!({ "name": "A2", "email": "ADA@example.com" })),
        )
        .await;
    assert_eq!(status, 409);
    assert_error(&dup, "conflict_error", "conflict");
    let (status, bad) = f.call("POST", "/users", Some(json!({ "name": " " }))).await;
    assert_eq!(status, 400);
    assert_error(&bad, "invalid_request_error", "invalid_value");

    let (status, patched) = f
        .call(
            "PATCH",
            &format!("/users/{ada_id}"),
            Some(json!({ "name": "Ada L.", "email": null, "disabled": true })),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["name"], "Ada L.");
    assert_eq!(patched["email"], Value::Null);
    assert_eq!(patched["limits"]["rpm"], 60, "limits untouched");
    assert_eq!(
        f.get("/users").await["total"],
        2,
        "disabled users are hidden"
    );
    assert_eq!(f.get("/users?include_disabled=true").await["total"], 3);
    assert_eq!(f.get(&format!("/users/{ada_id}")).await["disabled"], true);

    let (status, _) = f.call("DELETE", &format!("/users/{ada_id}"), None).await;
    assert_eq!(status, 200);
    let (status, gone) = f.call("GET", &format!("/users/{ada_id}"), None).await;
    assert_eq!(status, 404);
    assert_error(&gone, "not_found_error", "not_found");
    let (status, _) = f.call("DELETE", &format!("/users/{ada_id}"), None).await;
    assert_eq!(status, 404);
    let (status, bad) = f.call("GET", "/users/not-a-uuid", None).await;
    assert_eq!(status, 400);
    assert_error(&bad, "invalid_request_error", "invalid_path");
    let (status, bad) = f.call("GET", "/users?colour=red", None).await;
    assert_eq!(status, 400);
    assert_error(&bad, "invalid_request_error", "invalid_query");
}

#[tokio::test]
async fn balances_move_atomically_and_leave_an_audit_trail() {
    let f = Fixture::new().await;
    let id = f.user("Ada").await;
    let op = |what: &str| format!("/users/{id}/{what}");

    let (status, b) = f
        .call(
            "POST",
            &op("deposit"),
            Some(json!({ "amount_micros": 5_000_000, "note": "top-up" })),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["cash_micros"], 5_000_000);
    let (_, b) = f
        .call(
            "POST",
            &op("withdraw"),
            Some(json!({ "amount_micros": 2_000_000 })),
        )
        .await;
    assert_eq!(b["cash_micros"], 3_000_000);
    let (status, short) = f
        .call(
            "POST",
            &op("withdraw"),
            Some(json!({ "amount_micros": 10_000_000 })),
        )
        .await;
    assert_eq!(status, 409);
    assert_error(&short, "conflict_error", "insufficient_funds");
    let (status, bad) = f
        .call("POST", &op("deposit"), Some(json!({ "amount_micros": 0 })))
        .await;
    assert_eq!(status, 400);
    assert_error(&bad, "invalid_request_error", "invalid_value");
    let (status, b) = f
        .call(
            "POST",
            &op("credit-limit"),
            Some(json!({ "credit_limit_micros": 1_000_000 })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(b["available_micros"], 4_000_000);
    assert_eq!(
        f.get(&format!("/users/{id}")).await["available_micros"],
        4_000_000
    );

    let ledger = f.get(&op("ledger")).await;
    let items = ledger["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["credit_limit", "withdraw", "deposit"],
        "newest first"
    );
    assert!(items.iter().all(|e| e["actor"] == "admin"));
    assert_eq!(items[2]["note"], "top-up");
    assert_eq!(items[1]["amount_micros"], -2_000_000);
    assert_eq!(
        f.get(&format!("{}?limit=1&offset=1", op("ledger"))).await["items"][0]["kind"],
        "withdraw"
    );

    let nobody = "00000000-0000-0000-0000-000000000001";
    let (status, _) = f
        .call(
            "POST",
            &format!("/users/{nobody}/deposit"),
            Some(json!({ "amount_micros": 1 })),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = f
        .call("GET", &format!("/users/{nobody}/ledger"), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_created_key_is_shown_once_works_at_once_and_stops_when_revoked() {
    let f = Fixture::new().await;
    let user = f.user("Ada").await;
    assert_eq!(f.chat_with(None).await.status(), 200, "open: no keys yet");

    let (status, created) = f
        .call(
            "POST",
            "/keys",
            Some(json!({ "user_id": user, "name": "laptop" })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk-sb-") && key.len() > 20);
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["active"], true);
    let id = created["id"].as_str().unwrap().to_owned();

    assert_eq!(f.chat_with(Some(&key)).await.status(), 200, "works at once");
    assert_eq!(f.chat_with(None).await.status(), 401, "keys now required");

    let listed = f.get(&format!("/keys?user_id={user}")).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let one = f.get(&format!("/keys/{id}")).await;
    assert_eq!(one["name"], "laptop");
    for body in [&listed, &one] {
        let text = body.to_string();
        assert!(!text.contains(&key) && !text.contains("hash"), "{text}");
    }

    let (status, patched) = f
        .call(
            "PATCH",
            &format!("/keys/{id}"),
            Some(json!({ "name": "desk", "allowed_models": ["mock/*"] })),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["allowed_models"], json!(["mock/*"]));
    assert_eq!(
        f.chat_with(Some(&key)).await.status(),
        403,
        "`fast` is not allowed now"
    );
    f.call(
        "PATCH",
        &format!("/keys/{id}"),
        Some(json!({ "allowed_models": [] })),
    )
    .await;
    assert_eq!(f.chat_with(Some(&key)).await.status(), 200);

    let (status, revoked) = f.call("POST", &format!("/keys/{id}/revoke"), None).await;
    assert_eq!(status, 200);
    assert_eq!(revoked["active"], false);
    assert!(revoked["revoked_at"].is_i64());
    assert_eq!(f.chat_with(Some(&key)).await.status(), 401, "revoked");
    assert_eq!(f.get("/keys").await["items"].as_array().unwrap().len(), 0);
    assert_eq!(
        f.get("/keys?include_revoked=true").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let (status, _) = f.call("DELETE", &format!("/keys/{id}"), None).await;
    assert_eq!(status, 200);
    let (status, _) = f.call("GET", &format!("/keys/{id}"), None).await;
    assert_eq!(status, 404);
    let (status, _) = f
        .call(
            "POST",
            "/keys",
            Some(json!({ "user_id": "00000000-0000-0000-0000-000000000009", "name": "x" })),
        )
        .await;
    assert_eq!(status, 404, "no such user");
    assert_eq!(
        f.responses_containing(&key),
        1,
        "the plaintext came back only at creation"
    );
}
