//! Fault replies and the reply queue: statuses, delays, drops, bad bodies, FIFO order.

use std::time::{Duration, Instant};

use serde_json::json;
use testkit::{MockProvider, Reply};

use crate::support::{chat_body, client, post, post_json, sse_data, stream_body};

#[tokio::test]
async fn status_with_retry_after_then_back_to_echo() {
    let mock = MockProvider::start().await;
    mock.push(Reply::Status {
        status: 429,
        body: None,
        retry_after: Some(3),
    });
    let response = post(&mock, "/v1/chat/completions", &chat_body("hi")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(body["error"]["message"].is_string());

    let (status, body) = post_json(&mock, "/v1/chat/completions", &chat_body("hi")).await;
    assert_eq!(status, 200);
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hi");
    assert_eq!(mock.calls(), 2);
}

#[tokio::test]
async fn status_with_a_custom_body() {
    let mock = MockProvider::start().await;
    let custom = json!({"error": {"message": "overloaded", "type": "server_error", "code": null}});
    mock.push(Reply::Status {
        status: 503,
        body: Some(custom.clone()),
        retry_after: None,
    });
    let (status, body) = post_json(&mock, "/v1/chat/completions", &chat_body("hi")).await;
    assert_eq!(status, 503);
    assert_eq!(body, custom);
}

#[tokio::test]
async fn slow_first_byte_delays_the_headers() {
    let mock = MockProvider::start().await;
    mock.push(Reply::SlowFirstByte {
        delay_ms: 300,
        then: Box::new(Reply::text("late")),
    });
    let started = Instant::now();
    let response = post(&mock, "/v1/chat/completions", &chat_body("hi")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "late");
}

#[tokio::test]
async fn slow_first_byte_trips_a_client_timeout() {
    let mock = MockProvider::start().await;
    mock.push(Reply::SlowFirstByte {
        delay_ms: 2_000,
        then: Box::new(Reply::Echo),
    });
    let result = client()
        .post(format!("{}/chat/completions", mock.openai_base()))
        .json(&chat_body("hi"))
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    assert_eq!(mock.calls(), 1);
}

#[tokio::test]
async fn drop_mid_stream_errors_before_done() {
    let mock = MockProvider::start().await;
    mock.push(Reply::DropMidStream { after_chunks: 2 });
    let mut response = post(
        &mock,
        "/v1/chat/completions",
        &stream_body("one two three four", true),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut received = Vec::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(bytes)) => received.extend_from_slice(&bytes),
            Ok(None) => panic!(
                "stream ended cleanly: {}",
                String::from_utf8_lossy(&received)
            ),
            Err(e) => break e,
        }
    };
    assert!(
        error.is_body() || error.is_decode() || error.is_request(),
        "{error:?}"
    );
    let text = String::from_utf8(received).unwrap();
    let data = sse_data(&text);
    assert!(!data.iter().any(|d| d == "[DONE]"));
    // The role chunk and exactly two content chunks.
    assert_eq!(data.len(), 3);
    let second: serde_json::Value = serde_json::from_str(&data[2]).unwrap();
    assert_eq!(second["choices"][0]["delta"]["content"], "one ");
    // The server ended the stream on purpose: it is not a client cancellation.
    assert!(
        mock.wait_until(Duration::from_secs(2), |m| m.open_streams() == 0)
            .await
    );
    assert_eq!(mock.cancelled_streams(), 0);
}

#[tokio::test]
async fn drop_mid_stream_cuts_a_plain_body_in_half() {
    let mock = MockProvider::start().await;
    mock.push(Reply::DropMidStream { after_chunks: 1 });
    let response = post(&mock, "/v1/chat/completions", &chat_body("hi")).await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err());
}

#[tokio::test]
async fn malformed_bodies_are_not_json() {
    let mock = MockProvider::start().await;
    mock.push(Reply::Malformed);
    mock.push(Reply::Malformed);
    let response = post(&mock, "/v1/chat/completions", &chat_body("hi")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());

    let response = post(&mock, "/v1/chat/completions", &stream_body("hi", false)).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let data = sse_data(&response.text().await.unwrap());
    assert!(serde_json::from_str::<serde_json::Value>(&data[0]).is_err());
}

#[tokio::test]
async fn raw_replies_are_sent_verbatim() {
    let mock = MockProvider::start().await;
    mock.push(Reply::Raw {
        status: 418,
        headers: vec![
            ("content-type".into(), "text/plain".into()),
            ("x-mock".into(), "yes".into()),
        ],
        body: "short and stout".into(),
    });
    let response = post(&mock, "/v1/chat/completions", &chat_body("hi")).await;
    assert_eq!(response.status(), 418);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.headers()["x-mock"], "yes");
    assert_eq!(response.text().await.unwrap(), "short and stout");
}

#[tokio::test]
async fn hang_never_answers() {
    let mock = MockProvider::start().await;
    mock.push(Reply::Hang);
    let result = client()
        .post(format!("{}/chat/completions", mock.openai_base()))
        .json(&chat_body("hi"))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    assert_eq!(mock.calls(), 1);
}

#[tokio::test]
async fn replies_are_consumed_in_order_across_routes() {
    let mock = MockProvider::start().await;
    mock.push(Reply::text("first"));
    mock.push(Reply::text("second"));
    mock.push(Reply::status(500));
    let (_, body) = post_json(&mock, "/v1/chat/completions", &chat_body("a")).await;
    assert_eq!(body["choices"][0]["message"]["content"], "first");
    let (_, body) = post_json(
        &mock,
        "/v1/completions",
        &json!({"model": "m", "prompt": "b"}),
    )
    .await;
    assert_eq!(body["choices"][0]["text"], "second");
    let (status, body) = post_json(
        &mock,
        "/v1/embeddings",
        &json!({"model": "e", "input": "c"}),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["type"], "server_error");
    let (_, body) = post_json(&mock, "/v1/chat/completions", &chat_body("d")).await;
    assert_eq!(body["choices"][0]["message"]["content"], "echo: d");
    assert!(mock.wait_for_calls(4, Duration::from_secs(1)).await);
    assert_eq!(mock.calls(), 4);
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/v1/chat/completions",
            "/v1/completions",
            "/v1/embeddings",
            "/v1/chat/completions"
        ]
    );
}

#[tokio::test]
async fn set_default_applies_once_the_queue_is_empty() {
    let mock = MockProvider::start().await;
    mock.set_default(Reply::status(502));
    mock.push(Reply::text("queued"));
    let (status, _) = post_json(&mock, "/v1/chat/completions", &chat_body("a")).await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, _) = post_json(&mock, "/v1/chat/completions", &chat_body("a")).await;
        assert_eq!(status, 502);
    }
    mock.reset();
    assert_eq!(mock.calls(), 0);
    assert!(mock.requests().is_empty());
    let (status, _) = post_json(&mock, "/v1/chat/completions", &chat_body("a")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn invalid_json_gets_an_openai_400_but_faults_still_apply() {
    let mock = MockProvider::start().await;
    let send = || {
        client()
            .post(format!("{}/chat/completions", mock.openai_base()))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
    };
    let response = send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");

    mock.push(Reply::status(503));
    assert_eq!(send().await.unwrap().status(), 503);
    assert_eq!(mock.calls(), 2);
    assert_eq!(&mock.last_request().unwrap().body[..], b"{not json");
}

#[tokio::test]
async fn wait_for_calls_sees_calls_from_other_tasks() {
    let mock = MockProvider::start().await;
    let url = format!("{}/chat/completions", mock.openai_base());
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..3 {
            client()
                .post(&url)
                .json(&chat_body("x"))
                .send()
                .await
                .unwrap();
        }
    });
    assert!(mock.wait_for_calls(3, Duration::from_secs(5)).await);
    assert!(!mock.wait_for_calls(4, Duration::from_millis(50)).await);
    sender.await.unwrap();
}
