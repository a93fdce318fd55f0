//! Stream lifetime: open and cancelled stream counters, pacing, and shutdown on drop.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use testkit::{MockOptions, MockProvider, Reply};

use crate::support::{client, post, sse_chunks, stream_body};

const SETTLE: Duration = Duration::from_secs(2);

#[tokio::test]
async fn a_client_dropping_a_stream_cancels_it() {
    let mock = MockProvider::start().await;
    mock.push(Reply::Stream {
        chunks: vec!["tick ".to_owned(); 100],
        delay_ms: 20,
    });
    let mut response = post(&mock, "/v1/chat/completions", &stream_body("go", false)).await;
    let mut seen = 0;
    while seen < 3 {
        let chunk = response.chunk().await.unwrap().unwrap();
        seen += String::from_utf8_lossy(&chunk).matches("data: ").count();
    }
    assert_eq!(mock.open_streams(), 1);
    assert_eq!(mock.cancelled_streams(), 0);
    drop(response);
    assert!(
        mock.wait_until(SETTLE, |m| m.cancelled_streams() == 1
            && m.open_streams() == 0)
            .await,
        "open {} cancelled {}",
        mock.open_streams(),
        mock.cancelled_streams()
    );
}

#[tokio::test]
async fn a_finished_stream_is_closed_not_cancelled() {
    let mock = MockProvider::start().await;
    let response = post(&mock, "/v1/chat/completions", &stream_body("a b c", true)).await;
    let chunks = sse_chunks(&response.text().await.unwrap());
    assert!(!chunks.is_empty());
    assert!(mock.wait_until(SETTLE, |m| m.open_streams() == 0).await);
    assert_eq!(mock.cancelled_streams(), 0);
}

#[tokio::test]
async fn chunk_delay_paces_generated_streams() {
    let opts = MockOptions {
        chunk_delay: Duration::from_millis(30),
        ..MockOptions::default()
    };
    let mock = MockProvider::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), opts)
        .await
        .unwrap();
    let started = Instant::now();
    let response = post(&mock, "/v1/chat/completions", &stream_body("a b", false)).await;
    // Headers come at once; the body takes (events - 1) delays.
    assert!(started.elapsed() < Duration::from_millis(200));
    let chunks = sse_chunks(&response.text().await.unwrap());
    // role + "echo: " + "a " + "b" + finish, then [DONE]: five delays.
    assert_eq!(chunks.len(), 5);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn dropping_the_mock_closes_hanging_connections() {
    let mock = MockProvider::start().await;
    mock.push(Reply::Hang);
    let url = format!("{}/chat/completions", mock.openai_base());
    let pending = tokio::spawn(async move {
        client()
            .post(url)
            .json(&stream_body("hi", false))
            .send()
            .await
    });
    assert!(mock.wait_for_calls(1, SETTLE).await);
    drop(mock);
    let result = tokio::time::timeout(SETTLE, pending)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_err());
}
