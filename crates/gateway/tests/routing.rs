//! Combos over several real mock upstreams: fallback per failure class, strategies by call
//! counts, breakers, streaming fallback before the first byte, and what the client is told.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{TestGateway, chat, json_events, sse_data};
use serde_json::{Value, json};
use testkit::{MockProvider, Reply};

/// Three mock upstreams `a`, `b`, `c` (model `m` each, context windows 8k/32k/128k) and the
/// given combos.
async fn three(combos: &str) -> (Vec<MockProvider>, TestGateway) {
    let mocks = vec![
        MockProvider::start().await,
        MockProvider::start().await,
        MockProvider::start().await,
    ];
    let mut toml = String::new();
    for (name, (mock, window)) in ["a", "b", "c"]
        .iter()
        .zip(mocks.iter().zip([8_000, 32_000, 128_000]))
    {
        toml.push_str(&format!(
            "[providers.{name}]\nbase_url = \"{}\"\nauth = \"none\"\ntimeouts = {{ first_byte = \"2s\", idle = \"2s\", total = \"10s\" }}\n[providers.{name}.models.m]\ncontext_window = {window}\n",
            mock.openai_base()
        ));
    }
    toml.push_str(combos);
    let gw = TestGateway::from_toml(MockProvider::start().await, &toml).await;
    (mocks, gw)
}

fn calls(mocks: &[MockProvider]) -> Vec<usize> {
    mocks.iter().map(MockProvider::calls).collect()
}

const FALLBACK: &str = "[combos.smart]\ntargets = [\"a/m\", \"b/m\", \"c/m\"]\n";

#[tokio::test]
async fn each_retryable_failure_moves_on_to_the_next_target() {
    let failures = [
        Reply::Status {
            status: 500,
            body: None,
            retry_after: None,
        },
        Reply::Status {
            status: 503,
            body: None,
            retry_after: None,
        },
        Reply::Status {
            status: 429,
            body: None,
            retry_after: Some(30),
        },
        Reply::Malformed,
        Reply::SlowFirstByte {
            delay_ms: 3_000,
            then: Box::new(Reply::Echo),
        },
    ];
    for failure in failures {
        let (mocks, gw) = three(FALLBACK).await;
        mocks[0].push(failure.clone());
        let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
        assert_eq!(resp.status(), 200, "{failure:?}");
        assert_eq!(resp.headers()["x-switchboard-provider"], "b", "{failure:?}");
        assert_eq!(resp.headers()["x-switchboard-attempts"], "2");
        assert_eq!(
            resp.headers()["x-switchboard-route"],
            "combo=smart; strategy=fallback"
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["model"], "smart");
        assert_eq!(calls(&mocks), vec![1, 1, 0], "{failure:?}");
    }
}

#[tokio::test]
async fn an_unreachable_target_moves_on() {
    let (mocks, gw) = three("[providers.dead]\nbase_url = \"http://127.0.0.1:9/v1\"\nauth = \"none\"\n[combos.smart]\ntargets = [\"dead/m\", \"a/m\"]\n").await;
    let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchboard-provider"], "a");
    assert_eq!(calls(&mocks), vec![1, 0, 0]);
}

#[tokio::test]
async fn a_400_is_returned_at_once() {
    let (mocks, gw) = three(FALLBACK).await;
    mocks[0].push(Reply::Status {
        status: 400,
        body: Some(json!({ "error": { "message": "invalid temperature", "type": "invalid_request_error" } })),
        retry_after: None,
    });
    let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["message"], "invalid temperature");
    assert_eq!(calls(&mocks), vec![1, 0, 0]);
}

#[tokio::test]
async fn context_length_moves_to_a_larger_window() {
    let (mocks, gw) = three("[combos.smart]\ntargets = [\"b/m\", \"a/m\", \"c/m\"]\n").await;
    mocks[1].push(Reply::Status {
        status: 400,
        body: Some(json!({ "error": { "message": "This model's maximum context length is 32000 tokens", "code": "context_length_exceeded" } })),
        retry_after: None,
    });
    let resp = gw
        .post("/v1/chat/completions", &chat("smart", "a long prompt"))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-switchboard-provider"],
        "c",
        "a (8k) is skipped: smaller than b (32k)"
    );
    assert_eq!(calls(&mocks), vec![0, 1, 1]);
}

#[tokio::test]
async fn when_every_target_fails_the_body_lists_what_was_tried() {
    let (mocks, gw) = three(FALLBACK).await;
    for m in &mocks {
        m.push(Reply::Status {
            status: 503,
            body: None,
            retry_after: None,
        });
    }
    let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "all_attempts_failed");
    let tried = body["error"]["attempts"].as_array().unwrap();
    assert_eq!(tried.len(), 3);
    assert_eq!(tried[0]["provider"], "a");
    assert_eq!(tried[2]["status"], 503);
    assert!(body["error"]["message"].as_str().unwrap().contains("b/m"));
}

#[tokio::test]
async fn max_attempts_bounds_the_fallback() {
    let (mocks, gw) =
        three("[combos.smart]\ntargets = [\"a/m\", \"b/m\", \"c/m\"]\nmax_attempts = 2\n").await;
    mocks[0].push(Reply::Status {
        status: 500,
        body: None,
        retry_after: None,
    });
    mocks[1].push(Reply::Status {
        status: 500,
        body: None,
        retry_after: None,
    });
    let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
    assert_eq!(resp.status(), 500);
    assert_eq!(calls(&mocks), vec![1, 1, 0]);
}

#[tokio::test]
async fn retry_on_limits_which_failures_move_on() {
    let (mocks, gw) =
        three("[combos.smart]\ntargets = [\"a/m\", \"b/m\"]\nretry_on = [\"server_error\"]\n")
            .await;
    mocks[0].push(Reply::Status {
        status: 429,
        body: None,
        retry_after: Some(1),
    });
    let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
    assert_eq!(resp.status(), 429, "429 is not in retry_on");
    assert_eq!(calls(&mocks), vec![1, 0, 0]);
}

#[tokio::test]
async fn streams_fall_back_before_the_first_byte() {
    let (mocks, gw) = three(FALLBACK).await;
    mocks[0].push(Reply::Status {
        status: 502,
        body: None,
        retry_after: None,
    });
    mocks[1].push(Reply::Malformed);
    let mut req = chat("smart", "one two");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchboard-provider"], "c");
    assert_eq!(resp.headers()["x-switchboard-attempts"], "3");
    let chunks = json_events(&sse_data(resp).await);
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "echo: one two");
}

#[tokio::test]
async fn after_the_first_byte_a_broken_stream_ends_with_an_error_event() {
    let (mocks, gw) = three(FALLBACK).await;
    mocks[0].push(Reply::DropMidStream { after_chunks: 2 });
    let mut req = chat("smart", "hi");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200);
    let data = sse_data(resp).await;
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(last["error"].is_object(), "{data:?}");
    assert_eq!(
        calls(&mocks),
        vec![1, 0, 0],
        "no second target once bytes went out"
    );
}

#[tokio::test]
async fn round_robin_spreads_exactly() {
    let (mocks, gw) =
        three("[combos.rr]\nstrategy = \"round_robin\"\ntargets = [\"a/m\", \"b/m\", \"c/m\"]\n")
            .await;
    for _ in 0..30 {
        assert_eq!(
            gw.post("/v1/chat/completions", &chat("rr", "hi"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(calls(&mocks), vec![10, 10, 10]);
}

#[tokio::test]
async fn weighted_follows_the_weights() {
    let (mocks, gw) = three(
        "[combos.w]\nstrategy = \"weighted\"\ntargets = [{ target = \"a/m\", weight = 3 }, { target = \"b/m\", weight = 1 }]\n",
    )
    .await;
    for _ in 0..400 {
        gw.post("/v1/chat/completions", &chat("w", "hi")).await;
    }
    let c = calls(&mocks);
    assert_eq!(c[0] + c[1], 400);
    assert!((255..=345).contains(&c[0]), "{c:?}");
}

#[tokio::test]
async fn least_busy_avoids_the_target_with_requests_in_flight() {
    let (mocks, gw) =
        three("[combos.lb]\nstrategy = \"least_busy\"\ntargets = [\"a/m\", \"b/m\"]\n").await;
    // Hold three long streams on whichever target gets them, then send more.
    mocks[0].set_default(Reply::Stream {
        chunks: vec!["x".into(); 20],
        delay_ms: 100,
    });
    let mut req = chat("lb", "hi");
    req["stream"] = json!(true);
    let first = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(first.headers()["x-switchboard-provider"], "a");
    for _ in 0..5 {
        let resp = gw.post("/v1/chat/completions", &chat("lb", "hi")).await;
        assert_eq!(
            resp.headers()["x-switchboard-provider"],
            "b",
            "a has a stream in flight"
        );
    }
    drop(first);
}

#[tokio::test]
async fn latency_prefers_the_faster_upstream() {
    let (mocks, gw) =
        three("[combos.fast]\nstrategy = \"latency\"\ntargets = [\"a/m\", \"b/m\"]\n").await;
    mocks[0].set_default(Reply::SlowFirstByte {
        delay_ms: 150,
        then: Box::new(Reply::Echo),
    });
    for _ in 0..20 {
        gw.post("/v1/chat/completions", &chat("fast", "hi")).await;
    }
    let c = calls(&mocks);
    assert!(
        c[1] >= 17,
        "the fast one takes nearly all once measured: {c:?}"
    );
}

#[tokio::test]
async fn cost_picks_the_cheaper_target() {
    let (mocks, gw) = three(
        "[providers.a.models.n]\ninput_price = 5.0\noutput_price = 15.0\n[providers.b.models.n]\ninput_price = 0.1\noutput_price = 0.4\n[combos.cheap]\nstrategy = \"cost\"\ntargets = [\"a/n\", \"b/n\"]\n",
    )
    .await;
    for _ in 0..5 {
        gw.post("/v1/chat/completions", &chat("cheap", "hi")).await;
    }
    assert_eq!(calls(&mocks), vec![0, 5, 0]);
}

#[tokio::test]
async fn quota_skips_an_exhausted_target_until_its_reset() {
    let (mocks, gw) =
        three("[combos.q]\nstrategy = \"quota\"\ntargets = [\"a/m\", \"b/m\"]\n").await;
    mocks[0].push(Reply::Raw {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-ratelimit-remaining-requests".into(), "0".into()),
            ("x-ratelimit-reset-requests".into(), "1s".into()),
        ],
        body: json!({ "id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [] }).to_string(),
    });
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("q", "hi"))
            .await
            .headers()["x-switchboard-provider"],
        "a"
    );
    for _ in 0..3 {
        assert_eq!(
            gw.post("/v1/chat/completions", &chat("q", "hi"))
                .await
                .headers()["x-switchboard-provider"],
            "b"
        );
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("q", "hi"))
            .await
            .headers()["x-switchboard-provider"],
        "a"
    );
}

#[tokio::test]
async fn an_open_breaker_takes_the_target_out_until_it_recovers() {
    let (mocks, gw) = three(
        "[routing.breaker]\nconsecutive_failures = 3\nopen_for = \"500ms\"\n[combos.smart]\ntargets = [\"a/m\", \"b/m\"]\n",
    )
    .await;
    mocks[0].set_default(Reply::Status {
        status: 500,
        body: None,
        retry_after: None,
    });
    for _ in 0..10 {
        assert_eq!(
            gw.post("/v1/chat/completions", &chat("smart", "hi"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        calls(&mocks)[0],
        3,
        "after 3 failures the breaker opened and a was skipped"
    );
    mocks[0].set_default(Reply::Echo);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
    assert_eq!(
        resp.headers()["x-switchboard-provider"],
        "a",
        "half-open probe goes through and closes it"
    );
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("smart", "hi"))
            .await
            .headers()["x-switchboard-provider"],
        "a"
    );
}

#[tokio::test]
async fn combos_are_listed_and_cycles_rejected() {
    let (_mocks, gw) = three(FALLBACK).await;
    let body: Value = gw.get("/v1/models").await.json().await.unwrap();
    let smart = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "smart")
        .cloned()
        .unwrap();
    assert_eq!(
        smart["context_window"], 8000,
        "the smallest target's window"
    );
    let err = gateway::Config::from_toml(
        "[providers.a]\nbase_url = \"http://x/v1\"\nauth = \"none\"\n[combos.x]\ntargets = [\"y\"]\n[combos.y]\ntargets = [\"a/m\", \"x\"]\n",
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("cycle") && err.contains("x → y → x"), "{err}");
}

#[tokio::test]
async fn health_detailed_shows_breakers_in_flight_latency_and_last_error() {
    let (mocks, gw) = three("[routing.breaker]\nconsecutive_failures = 2\n[combos.smart]\ntargets = [\"a/m\", \"b/m\"]\n").await;
    mocks[0].set_default(Reply::Status {
        status: 500,
        body: None,
        retry_after: None,
    });
    for _ in 0..3 {
        gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
    }
    let body: Value = gw.get("/health/detailed").await.json().await.unwrap();
    let provider = |id: &str| {
        body["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap()
    };
    let a = provider("a")["targets"][0]["health"].clone();
    assert_eq!(a["breaker"]["state"], "open", "{a}");
    assert!(
        a["last_error"]["message"].as_str().unwrap().contains("500"),
        "{a}"
    );
    assert_eq!(a["failures"], 2);
    let b = provider("b")["targets"][0]["health"].clone();
    assert_eq!(b["breaker"]["state"], "closed");
    assert_eq!(b["successes"], 3);
    assert!(b["ewma_ttft_ms"].is_u64());
    assert_eq!(b["in_flight"], 0);
    assert_eq!(body["combos"][0]["name"], "smart");
    assert_eq!(body["combos"][0]["targets"], json!(["a/m", "b/m"]));
}

#[tokio::test]
async fn a_target_is_retried_with_backoff_before_moving_on() {
    let (mocks, gw) =
        three("[routing.retry]\nper_target = 3\nbase = \"10ms\"\ncap = \"50ms\"\n").await;
    mocks[0].push(Reply::Status {
        status: 500,
        body: None,
        retry_after: None,
    });
    mocks[0].push(Reply::Status {
        status: 503,
        body: None,
        retry_after: None,
    });
    let resp = gw.post("/v1/chat/completions", &chat("a/m", "hi")).await;
    assert_eq!(
        resp.status(),
        200,
        "third attempt on the same target succeeds"
    );
    assert_eq!(resp.headers()["x-switchboard-attempts"], "3");
    assert_eq!(mocks[0].calls(), 3);
}

#[tokio::test]
async fn retries_honour_retry_after() {
    let (mocks, gw) =
        three("[routing.retry]\nper_target = 2\nbase = \"1ms\"\ncap = \"1ms\"\n").await;
    mocks[0].push(Reply::Status {
        status: 429,
        body: None,
        retry_after: Some(1),
    });
    let started = std::time::Instant::now();
    let resp = gw.post("/v1/chat/completions", &chat("a/m", "hi")).await;
    assert_eq!(resp.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(1_000),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(mocks[0].calls(), 2);
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_moves_on_at_once() {
    let (mocks, gw) = three(
        "[routing.retry]\nper_target = 3\n[combos.smart]\ntargets = [\"a/m\", \"b/m\"]\ndeadline = \"5s\"\n",
    )
    .await;
    mocks[0].push(Reply::Status {
        status: 429,
        body: None,
        retry_after: Some(60),
    });
    let started = std::time::Instant::now();
    let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
    assert_eq!(resp.headers()["x-switchboard-provider"], "b");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(calls(&mocks), vec![1, 1, 0]);
}

#[tokio::test]
async fn targets_override_parameters_per_target() {
    let (mocks, gw) = three(
        "[combos.smart]\ntargets = [{ target = \"a/m\", params = { max_tokens = 77, reasoning_effort = \"low\" } }, \"b/m\"]\n",
    )
    .await;
    mocks[0].push(Reply::Status {
        status: 500,
        body: None,
        retry_after: None,
    });
    gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
    let a = mocks[0].last_request().unwrap().json().unwrap();
    assert_eq!(
        (a["max_tokens"].clone(), a["reasoning_effort"].clone()),
        (json!(77), json!("low"))
    );
    let b = mocks[1].last_request().unwrap().json().unwrap();
    assert!(
        b.get("max_tokens").is_none(),
        "the override belongs to target a only: {b}"
    );

    let mut req = chat("smart", "hi");
    req["max_tokens"] = json!(5000);
    gw.post("/v1/chat/completions", &req).await;
    assert_eq!(
        mocks[0].last_request().unwrap().json().unwrap()["max_tokens"],
        77,
        "the target's override wins"
    );
}
