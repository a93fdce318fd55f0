//! Chaos: three upstreams behind one combo — one failing 40% of calls with 500s, one always
//! answering 429 with Retry-After, one slow but healthy — and 2,000 mixed streaming and
//! non-streaming requests at concurrency 32. Every request must succeed, and the call counts
//! must show the breaker and the cooldown keeping traffic off the bad upstreams.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::TestGateway;
use serde_json::{Value, json};
use testkit::{MockProvider, Reply};
use tokio::sync::Semaphore;

const REQUESTS: usize = 2_000;
const CONCURRENCY: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_succeeds_and_the_bad_upstreams_are_avoided() {
    let flaky = MockProvider::start().await;
    let limited = MockProvider::start().await;
    let slow = MockProvider::start().await;
    // 40% of the flaky one's answers are 500s.
    for i in 0..REQUESTS {
        flaky.push(if i % 5 < 2 {
            Reply::Status {
                status: 500,
                body: None,
                retry_after: None,
            }
        } else {
            Reply::Echo
        });
    }
    limited.set_default(Reply::Status {
        status: 429,
        body: None,
        retry_after: Some(1),
    });
    slow.set_default(Reply::SlowFirstByte {
        delay_ms: 20,
        then: Box::new(Reply::Echo),
    });

    let mut toml = String::new();
    for (name, mock) in [("flaky", &flaky), ("limited", &limited), ("slow", &slow)] {
        toml.push_str(&format!(
            "[providers.{name}]\nbase_url = \"{}\"\nauth = \"bearer\"\nkeys = [\"k-{name}\"]\n",
            mock.openai_base()
        ));
    }
    toml.push_str(
        r#"
[routing.breaker]
consecutive_failures = 3
error_rate = 0.3
min_requests = 10
window = "10s"
open_for = "1s"

[combos.chaos]
targets = ["flaky/m", "limited/m", "slow/m"]
deadline = "30s"
"#,
    );
    let gw = Arc::new(TestGateway::from_toml(MockProvider::start().await, &toml).await);

    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS {
        let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
        let (gw, ok) = (Arc::clone(&gw), Arc::clone(&ok));
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let stream = i % 2 == 0;
            let body = json!({
                "model": "chaos", "stream": stream,
                "messages": [{ "role": "user", "content": format!("request {i}") }]
            });
            let resp = gw.post("/v1/chat/completions", &body).await;
            assert_eq!(resp.status(), 200, "request {i}");
            let text = String::from_utf8(resp.bytes().await.unwrap().to_vec()).unwrap();
            if stream {
                assert!(
                    text.trim_end().ends_with("data: [DONE]"),
                    "request {i}: {text}"
                );
                assert!(text.contains("request"), "request {i}: {text}");
            } else {
                let v: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    v["choices"][0]["message"]["content"],
                    format!("echo: request {i}")
                );
                assert_eq!(v["model"], "chaos");
            }
            ok.fetch_add(1, Ordering::Relaxed);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        ok.load(Ordering::Relaxed),
        REQUESTS,
        "every request succeeded"
    );

    let (f, l, s) = (flaky.calls(), limited.calls(), slow.calls());
    println!("calls: flaky {f}, limited {l}, slow {s}");
    // Without a breaker the flaky upstream would see every request first.
    assert!(
        f < REQUESTS * 3 / 4,
        "the breaker kept traffic off the flaky upstream: {f}"
    );
    // Without the cooldown the limited upstream would see every request the flaky one failed.
    assert!(
        l < 200,
        "the 429 cooldown kept traffic off the limited upstream: {l}"
    );
    // The flaky one's 60% successes plus the slow one's answers cover every request.
    let flaky_ok = f - (0..f).filter(|i| i % 5 < 2).count();
    assert_eq!(
        flaky_ok + s,
        REQUESTS,
        "every request was answered exactly once upstream"
    );
}
