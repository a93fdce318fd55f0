//! Every error case is an OpenAI error object with the right status, saying what was wrong.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestGateway, chat, sse_data};
use serde_json::{Value, json};
use testkit::Reply;

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["content-type"], "application/json");
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn unknown_model_names_the_closest_matches() {
    let gw = TestGateway::start().await;
    let (status, err) = error_of(
        gw.post("/v1/chat/completions", &chat("mock/gpt-4o-mini-x", "hi"))
            .await,
    )
    .await;
    // `mock/` is a known prefix, so any model passes through: this one reaches the mock.
    assert_eq!(status, 200, "{err}");
    let (status, err) = error_of(
        gw.post("/v1/chat/completions", &chat("gpt-4o-mni", "hi"))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "model_not_found");
    assert_eq!(err["error"]["param"], "model");
    let msg = err["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("'gpt-4o-mni'") && msg.contains("mock/gpt-4o-mini"),
        "{msg}"
    );
    let (_, err) = error_of(gw.post("/v1/chat/completions", &chat("fats", "hi")).await).await;
    assert!(err["error"]["message"].as_str().unwrap().contains("fast"));
    assert_eq!(gw.mock.calls(), 1, "only the valid request went upstream");
}

#[tokio::test]
async fn bad_json_says_where() {
    let gw = TestGateway::start().await;
    let (status, err) = error_of(
        gw.post_raw(
            "/v1/chat/completions",
            "{\"model\": \"fast\",\n  \"messages\": [}",
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "invalid_json");
    let msg = err["error"]["message"].as_str().unwrap();
    assert!(msg.contains("line 2 column"), "{msg}");
    assert_eq!(gw.mock.calls(), 0);
}

#[tokio::test]
async fn missing_and_mistyped_fields() {
    let gw = TestGateway::start().await;
    let cases = [
        (
            json!({ "messages": [{ "role": "user", "content": "x" }] }),
            "model",
            "missing_required_parameter",
        ),
        (
            json!({ "model": "fast" }),
            "messages",
            "missing_required_parameter",
        ),
        (
            json!({ "model": "fast", "messages": [] }),
            "messages",
            "invalid_type",
        ),
        (
            json!({ "model": "fast", "messages": "hi" }),
            "messages",
            "invalid_type",
        ),
        (
            json!({ "model": 5, "messages": [{ "role": "user", "content": "x" }] }),
            "model",
            "invalid_type",
        ),
        (
            json!({ "model": "fast", "messages": [{ "role": "user", "content": "x" }], "stream": "yes" }),
            "stream",
            "invalid_type",
        ),
        (
            json!({ "model": "fast", "messages": [{ "role": "user", "content": "x" }], "stream": true, "stream_options": 3 }),
            "stream_options",
            "invalid_type",
        ),
    ];
    for (body, param, code) in cases {
        let (status, err) = error_of(gw.post("/v1/chat/completions", &body).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(err["error"]["param"], param, "{body}");
        assert_eq!(err["error"]["code"], code, "{body}");
        assert_eq!(err["error"]["type"], "invalid_request_error");
    }
    let (status, err) =
        error_of(gw.post("/v1/embeddings", &json!({ "model": "fast" })).await).await;
    assert_eq!(
        (status, err["error"]["param"].clone()),
        (400, json!("input"))
    );
    let (status, err) = error_of(
        gw.post("/v1/completions", &json!({ "model": "fast" }))
            .await,
    )
    .await;
    assert_eq!(
        (status, err["error"]["param"].clone()),
        (400, json!("prompt"))
    );
    assert_eq!(gw.mock.calls(), 0);
}

#[tokio::test]
async fn no_input_makes_it_panic() {
    let gw = TestGateway::start().await;
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"model\"".to_vec(),
        vec![0xff, 0xfe, 0x00],
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        br#"{"model": "fast", "messages": [{"role": "user", "content": "\ud800"}]}"#.to_vec(),
        br#"{"model": "\u0000", "messages": [1]}"#.to_vec(),
    ];
    for body in bodies {
        let resp = gw.post_raw("/v1/chat/completions", body.clone()).await;
        let status = resp.status().as_u16();
        assert!(
            (400..500).contains(&status) || status == 200,
            "{status} for {:?}",
            String::from_utf8_lossy(&body)
        );
        let _: Value = resp.json().await.unwrap();
    }
    assert_eq!(gw.get("/health").await.status(), 200);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let gw = TestGateway::with(|_| "[server]\nmax_body_size = \"1KiB\"\n".into()).await;
    let big = chat("fast", &"word ".repeat(1000));
    let (status, err) = error_of(gw.post("/v1/chat/completions", &big).await).await;
    assert_eq!(status, 413);
    assert_eq!(err["error"]["code"], "request_too_large");
    assert!(err["error"]["message"].as_str().unwrap().contains("1024"));
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("fast", "small"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let gw = TestGateway::with(|_| {
        r#"
[providers.dead]
base_url = "http://127.0.0.1:9/v1"
auth = "none"
"#
        .into()
    })
    .await;
    let (status, err) =
        error_of(gw.post("/v1/chat/completions", &chat("dead/m", "hi")).await).await;
    assert_eq!(status, 502);
    assert_eq!(err["error"]["code"], "upstream_unreachable");
    assert!(err["error"]["message"].as_str().unwrap().contains("'dead'"));
}

#[tokio::test]
async fn slow_upstream_is_504() {
    let gw = TestGateway::with(|mock| {
        format!(
            r#"
[providers.slow]
base_url = "{mock}/v1"
auth = "none"
timeouts = {{ first_byte = "300ms" }}
"#
        )
    })
    .await;
    gw.mock.push(Reply::Hang);
    let started = std::time::Instant::now();
    let (status, err) =
        error_of(gw.post("/v1/chat/completions", &chat("slow/m", "hi")).await).await;
    assert_eq!(status, 504);
    assert_eq!(err["error"]["code"], "upstream_timeout");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}

#[tokio::test]
async fn upstream_errors_pass_through_with_status_and_message() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Status {
        status: 429,
        body: Some(json!({ "error": { "message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded" } })),
        retry_after: Some(7),
    });
    let resp = gw.post("/v1/chat/completions", &chat("fast", "hi")).await;
    assert_eq!(resp.headers()["retry-after"], "7");
    let (status, err) = error_of(resp).await;
    assert_eq!(status, 429);
    assert_eq!(err["error"]["message"], "Rate limit reached for requests");
    assert_eq!(err["error"]["code"], "rate_limit_exceeded");

    // The only credential now rests for those 7 seconds: the gateway answers 429 itself
    // instead of sending a call it knows will fail.
    let resp = gw.post("/v1/chat/completions", &chat("fast", "hi")).await;
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=7).contains(&wait), "{wait}");
    let (status, err) = error_of(resp).await;
    assert_eq!(status, 429);
    assert_eq!(err["error"]["code"], "credentials_cooling_down");
    assert_eq!(gw.mock.calls(), 1, "the upstream was spared");

    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Raw {
        status: 503,
        headers: vec![],
        body: "upstream overloaded".into(),
    });
    let (status, err) = error_of(gw.post("/v1/chat/completions", &chat("fast", "hi")).await).await;
    assert_eq!(status, 503);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upstream overloaded")
    );
}

#[tokio::test]
async fn malformed_upstream_answers_are_502() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Malformed);
    let (status, err) = error_of(gw.post("/v1/chat/completions", &chat("fast", "hi")).await).await;
    assert_eq!(status, 502);
    assert_eq!(err["error"]["code"], "upstream_invalid_response");

    gw.mock.push(Reply::Malformed);
    let mut req = chat("fast", "hi");
    req["stream"] = json!(true);
    let (status, err) = error_of(gw.post("/v1/chat/completions", &req).await).await;
    assert_eq!(status, 502, "{err}");
}

#[tokio::test]
async fn a_stream_that_breaks_off_ends_with_an_error_event() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::DropMidStream { after_chunks: 2 });
    let mut req = chat("fast", "hi");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200, "the stream had started");
    let data = sse_data(resp).await;
    assert!(!data.iter().any(|d| d == "[DONE]"));
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_unreachable", "{last}");
}

#[tokio::test]
async fn a_stream_that_stalls_ends_with_a_timeout_event() {
    let gw = TestGateway::with(|mock| {
        format!(
            r#"
[providers.stally]
base_url = "{mock}/v1"
auth = "none"
timeouts = {{ idle = "300ms" }}
"#
        )
    })
    .await;
    gw.mock.push(Reply::Stream {
        chunks: vec!["a".into(), "b".into()],
        delay_ms: 2_000,
    });
    let mut req = chat("stally/m", "hi");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", &req).await;
    let data = sse_data(resp).await;
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_timeout", "{data:?}");
}

#[tokio::test]
async fn unknown_routes_and_keys() {
    let gw = TestGateway::start().await;
    let (status, err) = error_of(gw.post("/v1/nothing", &json!({})).await).await;
    assert_eq!(status, 404);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/nothing")
    );

    let gw = TestGateway::with(|_| "[auth]\nkeys = [\"sk-gw-1\"]\n".into()).await;
    let (status, err) = error_of(gw.post("/v1/chat/completions", &chat("fast", "hi")).await).await;
    assert_eq!(status, 401);
    assert_eq!(err["error"]["code"], "invalid_api_key");
    for (name, value) in [
        ("authorization", "Bearer sk-gw-1"),
        ("x-api-key", "sk-gw-1"),
        ("x-goog-api-key", "sk-gw-1"),
    ] {
        let resp = gw
            .http
            .post(gw.url("/v1/chat/completions"))
            .header(name, value)
            .json(&chat("fast", "hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{name}");
    }
    let resp = gw
        .http
        .get(gw.url("/v1/models"))
        .header("authorization", "Bearer wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        gw.mock.last_request().unwrap().header("authorization"),
        Some("Bearer sk-upstream-1"),
        "the client's key never goes upstream"
    );
}

#[tokio::test]
async fn repeated_auth_failures_lock_the_address_out() {
    let gw = TestGateway::with(|_| "[auth]\nkeys = [\"sk-gw-1\"]\n".into()).await;
    let send = |key: &'static str| {
        let (http, url) = (gw.http.clone(), gw.url("/v1/chat/completions"));
        async move {
            http.post(url)
                .bearer_auth(key)
                .json(&chat("fast", "hi"))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..5 {
        assert_eq!(send("wrong").await.status(), 401);
    }
    assert_eq!(
        send("wrong").await.status(),
        401,
        "the sixth failure starts the lockout"
    );
    let locked = send("sk-gw-1").await;
    assert_eq!(
        locked.status(),
        429,
        "even the right key waits out the lockout"
    );
    assert!(locked.headers().contains_key("retry-after"));
    let (_, err) = error_of(locked).await;
    assert_eq!(err["error"]["code"], "auth_locked_out");
    let health: Value = gw.get("/health").await.json().await.unwrap();
    assert_eq!(health["locked_out_addresses"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(
        send("sk-gw-1").await.status(),
        200,
        "after the wait the right key works and clears it"
    );
    let health: Value = gw.get("/health").await.json().await.unwrap();
    assert_eq!(health["locked_out_addresses"], 0);
}
