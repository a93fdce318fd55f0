//! Client disconnects cancel the upstream; shutdown lets requests in flight finish.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{TestGateway, chat};
use futures_util::StreamExt;
use serde_json::json;
use testkit::Reply;

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Stream {
        chunks: (0..50).map(|i| format!("w{i} ")).collect(),
        delay_ms: 100,
    });
    let mut req = chat("fast", "hi");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", &req).await;
    let mut body = resp.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    assert_eq!(gw.mock.open_streams(), 1);
    drop(body);
    let cancelled = gw
        .mock
        .wait_until(Duration::from_secs(5), |m| {
            m.cancelled_streams() == 1 && m.open_streams() == 0
        })
        .await;
    assert!(
        cancelled,
        "the upstream stream was dropped when the client went away"
    );
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_refuses_new_ones() {
    let mut gw = TestGateway::start().await;
    gw.mock.push(Reply::Stream {
        chunks: (0..8).map(|i| format!("w{i} ")).collect(),
        delay_ms: 100,
    });
    let mut req = chat("fast", "hi");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", &req).await;
    let stopping = gw.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = reqwest::Client::new().get(gw.url("/health")).send().await;
    assert!(refused.is_err(), "no new connections after shutdown began");
    let text = String::from_utf8(resp.bytes().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains("w7") && text.trim_end().ends_with("[DONE]"),
        "the stream in flight completed"
    );
    let result = tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_ok());
}

#[tokio::test]
async fn shutdown_is_bounded_by_the_grace_period() {
    let mut gw = TestGateway::with(|_| "[server]\nshutdown_grace = \"300ms\"\n".into()).await;
    gw.mock.push(Reply::Hang);
    let url = gw.url("/v1/chat/completions");
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&chat("fast", "hi"))
            .send()
            .await
    });
    assert!(gw.mock.wait_for_calls(1, Duration::from_secs(5)).await);
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(5), gw.begin_shutdown())
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_ok());
    assert!(started.elapsed() < Duration::from_secs(3));
    pending.abort();
}
