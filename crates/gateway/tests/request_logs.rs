//! Request/response body logging against SQLite and PostgreSQL: off by default; when on,
//! every request leaves its bodies — cut at the configured size with a marker, secrets
//! redacted, streams captured as relayed, refusals with their error.

#![allow(clippy::unwrap_used)]

mod common;
mod db_fixture;

use std::time::Duration;

use common::{TestGateway, base_config, chat};
use db_fixture::backend_tests;
use gateway::state::Services;
use gateway::usage::request_log;
use serde_json::{Value, json};
use store::{Page, RequestLog, Store};
use testkit::MockProvider;

backend_tests!(
    logging_is_off_by_default,
    bodies_are_logged_cut_and_redacted
);

async fn all_logs(store: &Store) -> Vec<RequestLog> {
    store
        .list_request_logs(0, i64::MAX, Page::new(1000, 0))
        .await
        .unwrap()
}

async fn send(gw: &TestGateway, id: &str, body: &Value) -> (u16, String) {
    let resp = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .header("x-request-id", id)
        .json(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn logging_is_off_by_default(store: Store) {
    let mock = MockProvider::start().await;
    let toml = base_config(&mock.url());
    let config = gateway::Config::from_toml(&toml, &|_| None).unwrap();
    assert!(!config.request_logs.enabled);
    assert!(request_log::from_config(&config.request_logs, store.clone()).is_none());
    let services = Services {
        store: Some(store.clone()),
        ..Services::default()
    };
    let gw = TestGateway::with_services(mock, &toml, services).await;
    let (status, _) = send(&gw, "off-1", &chat("fast", "hello")).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(all_logs(&store).await.is_empty());
}

async fn bodies_are_logged_cut_and_redacted(store: Store) {
    let mock = MockProvider::start().await;
    let toml = format!(
        "{}\n[request_logs]\nenabled = true\nmax_body_size = \"4KiB\"\n",
        base_config(&mock.url())
    );
    let config = gateway::Config::from_toml(&toml, &|_| None).unwrap();
    let (handle, task) = request_log::from_config(&config.request_logs, store.clone()).unwrap();
    assert_eq!(handle.max_body(), 4096);
    let services = Services {
        store: Some(store.clone()),
        request_logs: Some(handle),
        ..Services::default()
    };
    let gw = TestGateway::with_services(mock, &toml, services).await;

    // Secrets in the body: a key field and keys in the text (the echo repeats the text).
    let mut secret = chat(
        "fast",
        "my key is sk-secret123 and the header was Authorization: Bearer sk-sb-0123456789abcdef",
    );
    secret["api_key"] = json!("sk-secret123");
    secret["metadata"] = json!({ "password": "hunter2", "note": "keep" });
    let (status, answer) = send(&gw, "log-secret", &secret).await;
    assert_eq!(status, 200);
    assert!(
        answer.contains("sk-secret123"),
        "the client still gets its answer: {answer}"
    );
    // A body longer than the cap.
    let long = chat("fast", &"lorem ipsum ".repeat(800));
    let long_len = serde_json::to_vec(&long).unwrap().len();
    assert!(long_len > 8000);
    let (status, _) = send(&gw, "log-long", &long).await;
    assert_eq!(status, 200);
    // A stream.
    let mut stream = chat("fast", "stream me");
    stream["stream"] = json!(true);
    let (status, streamed) = send(&gw, "log-stream", &stream).await;
    assert_eq!(status, 200);
    // A refusal.
    let (status, _) = send(&gw, "log-404", &chat("no-such-model", "hi")).await;
    assert_eq!(status, 404);

    let mut logs = all_logs(&store).await;
    for _ in 0..250 {
        if logs.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        logs = all_logs(&store).await;
    }
    assert_eq!(logs.len(), 4, "{logs:#?}");
    let stats = task.shutdown().await;
    assert_eq!((stats.written, stats.dropped, stats.failed), (4, 0, 0));
    let by_id = |id: &str| logs.iter().find(|l| l.request_id == id).unwrap().clone();

    let s = by_id("log-secret");
    assert_eq!(s.status, 200);
    let req = s.request_body.unwrap();
    let resp = s.response_body.unwrap();
    for text in [&req, &resp] {
        assert!(!text.contains("secret123"), "{text}");
        assert!(!text.contains("0123456789abcdef"), "{text}");
        assert!(text.contains("Bearer [REDACTED]"), "{text}");
    }
    let logged: Value = serde_json::from_str(&req).expect("a redacted body is still JSON");
    assert_eq!(logged["api_key"], "[REDACTED]");
    assert_eq!(logged["metadata"]["password"], "[REDACTED]");
    assert_eq!(logged["metadata"]["note"], "keep");
    assert_eq!(logged["model"], "fast");
    let answer: Value = serde_json::from_str(&resp).unwrap();
    assert_eq!(answer["model"], "fast", "the body as relayed to the client");

    let l = by_id("log-long").request_body.unwrap();
    let marker = format!("\n[truncated by switchboard: 4096 of {long_len} bytes kept]");
    assert!(l.ends_with(&marker), "{l}");
    assert_eq!(l.len() - marker.len(), 4096);
    assert!(l.starts_with("{\"model\":\"fast\""));

    let st = by_id("log-stream").response_body.unwrap();
    assert!(st.starts_with("data: {"), "{st}");
    assert!(st.contains("\"model\":\"fast\""));
    assert!(st.contains("data: [DONE]"));
    assert_eq!(st, streamed, "exactly the relayed bytes");

    let r = by_id("log-404");
    assert_eq!(r.status, 404);
    assert!(r.request_body.unwrap().contains("no-such-model"));
    assert!(r.response_body.unwrap().contains("no-such-model"));
}
