//! `Idempotency-Key`: identical concurrent requests share one upstream call and one answer.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{TestGateway, chat};
use serde_json::json;
use testkit::Reply;

async fn twenty(gw: &TestGateway, body: serde_json::Value, key: &str) -> Vec<(u16, Vec<u8>)> {
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (http, url, body, key) = (
            gw.http.clone(),
            gw.url("/v1/chat/completions"),
            body.clone(),
            key.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let resp = http
                .post(url)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn twenty_concurrent_identical_requests_make_one_upstream_call() {
    let gw = TestGateway::start().await;
    gw.mock.set_default(Reply::SlowFirstByte {
        delay_ms: 200,
        then: Box::new(Reply::Echo),
    });
    let answers = twenty(&gw, chat("fast", "once only"), "k-1").await;
    assert_eq!(gw.mock.calls(), 1);
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "20 identical answers"
    );
    assert_eq!(answers[0].0, 200);
    assert!(String::from_utf8_lossy(&answers[0].1).contains("echo: once only"));
}

#[tokio::test]
async fn twenty_concurrent_identical_streams_make_one_upstream_call() {
    let gw = TestGateway::start().await;
    gw.mock.set_default(Reply::Stream {
        chunks: (0..10).map(|i| format!("w{i} ")).collect(),
        delay_ms: 30,
    });
    let mut body = chat("fast", "stream once");
    body["stream"] = json!(true);
    let answers = twenty(&gw, body, "k-2").await;
    assert_eq!(gw.mock.calls(), 1);
    assert!(answers.iter().all(|a| a == &answers[0]));
    let text = String::from_utf8_lossy(&answers[0].1);
    assert!(
        text.contains("w9") && text.trim_end().ends_with("[DONE]"),
        "{text}"
    );
}

#[tokio::test]
async fn a_repeat_within_the_window_is_replayed_and_a_different_body_conflicts() {
    let gw = TestGateway::with(|_| "[idempotency]\nwindow = \"300ms\"\n".into()).await;
    let send = |body: serde_json::Value| {
        let (http, url) = (gw.http.clone(), gw.url("/v1/chat/completions"));
        async move {
            http.post(url)
                .header("idempotency-key", "k-3")
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let first = send(chat("fast", "hello")).await;
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first = first.bytes().await.unwrap();
    let again = send(chat("fast", "hello")).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first);
    assert_eq!(gw.mock.calls(), 1);

    let other = send(chat("fast", "something else")).await;
    assert_eq!(other.status(), 409);
    let err: serde_json::Value = other.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("idempotency"),
        "{err}"
    );

    tokio::time::sleep(Duration::from_millis(400)).await;
    send(chat("fast", "hello")).await.bytes().await.unwrap();
    assert_eq!(gw.mock.calls(), 2, "after the window the key leads again");
}
