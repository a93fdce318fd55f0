//! Unit tests: leader responses whose body is a stream the test feeds through a channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tokio::sync::mpsc;
use tokio::time::{Duration, sleep};

use super::*;

type Feed = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// A response whose body yields what the test sends; dropping the body closes `Feed`.
fn fed_response(status: StatusCode) -> (Feed, Response) {
    let (tx, mut rx) = mpsc::channel(16);
    let body = async_stream::stream! {
        while let Some(item) = rx.recv().await {
            yield item;
        }
    };
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
        .headers_mut()
        .insert("x-request-id", HeaderValue::from_static("leader-id"));
    (tx, response)
}

async fn send(feed: &Feed, chunk: &'static str) {
    assert!(
        feed.send(Ok(Bytes::from(chunk))).await.is_ok(),
        "upstream cancelled"
    );
}

/// Lets every task run until it waits (time is paused: sleeping only advances the clock).
async fn settle() {
    sleep(Duration::from_millis(1)).await;
}

/// The body's chunks, and the error that ended it, if any.
async fn read_all(response: Response) -> (Vec<Bytes>, Option<String>) {
    let mut body = response.into_body().into_data_stream();
    let mut chunks = Vec::new();
    while let Some(item) = body.next().await {
        match item {
            Ok(chunk) => chunks.push(chunk),
            Err(e) => return (chunks, Some(e.to_string())),
        }
    }
    (chunks, None)
}

fn idempotency() -> Idempotency {
    Idempotency::new(IdempotencyConfig::default())
}

async fn lead(idem: &Idempotency, key: &str, fp: u64) -> Leader {
    match idem.claim(key, fp).await {
        Claim::Leader(leader) => leader,
        Claim::Follower(_) => panic!("expected to lead, got a follower"),
        Claim::Conflict(c) => panic!("expected to lead, got {c:?}"),
    }
}

async fn follow(idem: &Idempotency, key: &str, fp: u64) -> Response {
    match idem.claim(key, fp).await {
        Claim::Follower(response) => response,
        Claim::Leader(_) => panic!("expected to follow, got the lead"),
        Claim::Conflict(c) => panic!("expected to follow, got {c:?}"),
    }
}

async fn conflict(idem: &Idempotency, key: &str, fp: u64) -> Conflict {
    match idem.claim(key, fp).await {
        Claim::Conflict(c) => c,
        Claim::Leader(_) => panic!("expected a conflict, got the lead"),
        Claim::Follower(_) => panic!("expected a conflict, got a follower"),
    }
}

/// A follower's body read in a task; its progress is visible through `seen`.
fn spawn_reader(
    response: Response,
    seen: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<(Vec<Bytes>, Option<String>)> {
    tokio::spawn(async move {
        let mut body = response.into_body().into_data_stream();
        let mut chunks = Vec::new();
        while let Some(item) = body.next().await {
            match item {
                Ok(chunk) => {
                    chunks.push(chunk);
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => return (chunks, Some(e.to_string())),
            }
        }
        (chunks, None)
    })
}

#[tokio::test(start_paused = true)]
async fn twenty_concurrent_claims_share_one_upstream_call_chunk_by_chunk() {
    let idem = idempotency();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(AtomicUsize::new(0));
    let (feed_tx, mut feed_rx) = mpsc::channel::<Feed>(1);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (idem, calls, seen, feed_tx) = (
            idem.clone(),
            Arc::clone(&calls),
            Arc::clone(&seen),
            feed_tx.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let response = match idem.claim("principal:k1", 7).await {
                Claim::Leader(leader) => {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let (feed, response) = fed_response(StatusCode::OK);
                    assert!(feed_tx.send(feed).await.is_ok());
                    leader.record(response)
                }
                Claim::Follower(response) => response,
                Claim::Conflict(c) => panic!("unexpected {c:?}"),
            };
            let headers = response.headers().clone();
            let body = spawn_reader(response, seen).await.ok();
            (headers, body)
        }));
    }
    let Some(feed) = feed_rx.recv().await else {
        panic!("no leader")
    };
    settle().await;
    send(&feed, "data: one\n\n").await;
    settle().await;
    // Every reader has chunk 1 before chunk 2 exists.
    assert_eq!(seen.load(Ordering::SeqCst), 20);
    send(&feed, "data: two\n\n").await;
    settle().await;
    assert_eq!(seen.load(Ordering::SeqCst), 40);
    send(&feed, "data: [DONE]\n\n").await;
    drop(feed);

    let mut replayed = 0;
    for task in tasks {
        let Ok((headers, Some((chunks, error)))) = task.await else {
            panic!("task failed")
        };
        assert_eq!(error, None);
        assert_eq!(
            chunks,
            ["data: one\n\n", "data: two\n\n", "data: [DONE]\n\n"].map(Bytes::from)
        );
        assert_eq!(headers[header::CONTENT_TYPE], "text/event-stream");
        if headers.contains_key(REPLAYED_HEADER) {
            replayed += 1;
            assert!(!headers.contains_key("x-request-id"));
        } else {
            assert_eq!(headers["x-request-id"], "leader-id");
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(replayed, 19);
}

#[tokio::test(start_paused = true)]
async fn a_follower_arriving_mid_stream_gets_what_was_sent_then_the_rest() {
    let idem = idempotency();
    let leader = lead(&idem, "k", 1).await;
    let (feed, response) = fed_response(StatusCode::OK);
    let leader_body = tokio::spawn(read_all(leader.record(response)));
    send(&feed, "a").await;
    send(&feed, "b").await;
    settle().await;

    let seen = Arc::new(AtomicUsize::new(0));
    let follower = spawn_reader(follow(&idem, "k", 1).await, Arc::clone(&seen));
    settle().await;
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    send(&feed, "c").await;
    settle().await;
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    drop(feed);

    let expected = ["a", "b", "c"].map(Bytes::from).to_vec();
    assert_eq!(leader_body.await.ok(), Some((expected.clone(), None)));
    assert_eq!(follower.await.ok(), Some((expected, None)));
}

#[tokio::test(start_paused = true)]
async fn a_completed_answer_is_replayed_within_the_window_then_the_key_leads_again() {
    let idem = idempotency();
    let leader = lead(&idem, "k", 1).await;
    let response = leader.record(Response::new(Body::from("{\"ok\":true}")));
    // A known length stays known to the leader's client.
    assert_eq!(response.headers()[header::CONTENT_LENGTH], "11");
    assert_eq!(
        read_all(response).await,
        (vec![Bytes::from("{\"ok\":true}")], None)
    );

    sleep(Duration::from_millis(4_900)).await;
    let replay = follow(&idem, "k", 1).await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.headers()[REPLAYED_HEADER], "true");
    assert_eq!(replay.headers()[header::CONTENT_LENGTH], "11");
    assert_eq!(
        read_all(replay).await,
        (vec![Bytes::from("{\"ok\":true}")], None)
    );

    sleep(Duration::from_millis(200)).await;
    let again = lead(&idem, "k", 1).await;
    assert!(again.is_tracked());
}

#[tokio::test(start_paused = true)]
async fn the_window_starts_when_the_answer_completes() {
    let idem = idempotency();
    let leader = lead(&idem, "k", 1).await;
    let (feed, response) = fed_response(StatusCode::OK);
    let body = tokio::spawn(read_all(leader.record(response)));
    sleep(Duration::from_secs(30)).await;
    let follower = follow(&idem, "k", 1).await;
    send(&feed, "late").await;
    drop(feed);
    assert!(body.await.is_ok());
    assert_eq!(read_all(follower).await, (vec![Bytes::from("late")], None));
}

#[tokio::test(start_paused = true)]
async fn the_same_key_with_a_different_request_conflicts() {
    let idem = idempotency();
    let leader = lead(&idem, "k", 1).await;
    assert_eq!(conflict(&idem, "k", 2).await, Conflict::KeyReused);
    assert_eq!(Conflict::KeyReused.status(), StatusCode::CONFLICT);
    // Keys are independent.
    assert!(lead(&idem, "other", 2).await.is_tracked());
    drop(leader);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_leader_fails_its_followers_and_releases_the_key() {
    let idem = idempotency();
    let leader = lead(&idem, "k", 1).await;
    let waiting = {
        let idem = idem.clone();
        tokio::spawn(async move { idem.claim("k", 1).await })
    };
    settle().await;
    assert!(
        !waiting.is_finished(),
        "a follower waits for the leader's response"
    );
    drop(leader);
    match waiting.await {
        Ok(Claim::Conflict(Conflict::OriginalFailed)) => {}
        _ => panic!("expected OriginalFailed"),
    }
    assert!(lead(&idem, "k", 1).await.is_tracked());
}

#[tokio::test(start_paused = true)]
async fn a_follower_that_gives_up_waiting_leaves_the_others_unaffected() {
    let idem = idempotency();
    let leader = lead(&idem, "k", 1).await;
    let impatient = {
        let idem = idem.clone();
        tokio::spawn(async move { idem.claim("k", 1).await })
    };
    settle().await;
    impatient.abort();
    settle().await;
    let (feed, response) = fed_response(StatusCode::OK);
    let body = tokio::spawn(read_all(leader.record(response)));
    let follower = follow(&idem, "k", 1).await;
    send(&feed, "x").await;
    drop(feed);
    assert_eq!(body.await.ok(), Some((vec![Bytes::from("x")], None)));
    assert_eq!(read_all(follower).await, (vec![Bytes::from("x")], None));
}

#[tokio::test(start_paused = true)]
async fn when_the_table_is_full_new_keys_run_untracked() {
    let idem = Idempotency::new(IdempotencyConfig {
        max_entries: 2,
        ..IdempotencyConfig::default()
    });
    let a = lead(&idem, "a", 1).await;
    let b = lead(&idem, "b", 1).await;
    let c = lead(&idem, "c", 1).await;
    assert!(!c.is_tracked());
    let response = c.record(Response::new(Body::from("plain")));
    assert!(!response.headers().contains_key(REPLAYED_HEADER));
    assert_eq!(read_all(response).await, (vec![Bytes::from("plain")], None));
    // Untracked: the same key leads again instead of replaying.
    assert!(!lead(&idem, "c", 1).await.is_tracked());
    assert_eq!(idem.len(), 2);

    // Once `a` completed and its window passed, there is room again.
    assert!(
        read_all(a.record(Response::new(Body::from("a"))))
            .await
            .1
            .is_none()
    );
    drop(b);
    let d = lead(&idem, "d", 1).await;
    assert!(d.is_tracked());
    assert!(!lead(&idem, "e", 1).await.is_tracked());
    sleep(Duration::from_secs(6)).await;
    assert!(lead(&idem, "e", 1).await.is_tracked());
    drop(d);
}

#[tokio::test(start_paused = true)]
async fn an_oversized_body_cuts_off_followers_but_not_the_leader() {
    let idem = Idempotency::new(IdempotencyConfig {
        max_body_bytes: 10,
        ..IdempotencyConfig::default()
    });
    let leader = lead(&idem, "k", 1).await;
    let (feed, response) = fed_response(StatusCode::OK);
    let leader_body = tokio::spawn(read_all(leader.record(response)));
    let follower = spawn_reader(follow(&idem, "k", 1).await, Arc::default());
    send(&feed, "123456").await;
    settle().await;
    send(&feed, "789012").await;
    settle().await;
    assert_eq!(conflict(&idem, "k", 1).await, Conflict::TooLarge);
    send(&feed, "345").await;
    drop(feed);

    assert_eq!(
        leader_body.await.ok(),
        Some((["123456", "789012", "345"].map(Bytes::from).to_vec(), None))
    );
    let Ok((chunks, Some(error))) = follower.await else {
        panic!("the follower must end with an error")
    };
    assert_eq!(chunks, vec![Bytes::from("123456")]);
    assert!(error.contains("limit"), "{error}");
    assert_eq!(idem.held_bytes(), 0);
    // The marker stays for the window.
    assert_eq!(conflict(&idem, "k", 1).await, Conflict::TooLarge);
    sleep(Duration::from_secs(6)).await;
    assert!(lead(&idem, "k", 1).await.is_tracked());
}

#[tokio::test(start_paused = true)]
async fn the_total_bound_applies_across_entries() {
    let idem = Idempotency::new(IdempotencyConfig {
        max_total_bytes: 8,
        ..IdempotencyConfig::default()
    });
    let a = lead(&idem, "a", 1).await;
    assert!(
        read_all(a.record(Response::new(Body::from("12345"))))
            .await
            .1
            .is_none()
    );
    assert_eq!(idem.held_bytes(), 5);
    let b = lead(&idem, "b", 1).await;
    assert!(
        read_all(b.record(Response::new(Body::from("67890"))))
            .await
            .1
            .is_none()
    );
    assert_eq!(conflict(&idem, "b", 1).await, Conflict::TooLarge);
    assert_eq!(idem.held_bytes(), 5);
    sleep(Duration::from_secs(6)).await;
    assert!(lead(&idem, "c", 1).await.is_tracked());
    assert_eq!(idem.held_bytes(), 0);
}

#[tokio::test(start_paused = true)]
async fn followers_keep_the_upstream_going_when_the_leaders_client_leaves() {
    let idem = idempotency();
    let leader = lead(&idem, "k", 1).await;
    let (feed, response) = fed_response(StatusCode::OK);
    let mut leader_body = leader.record(response).into_body().into_data_stream();
    let follower = spawn_reader(follow(&idem, "k", 1).await, Arc::default());
    send(&feed, "one").await;
    assert_eq!(
        leader_body.next().await.and_then(Result::ok),
        Some(Bytes::from("one"))
    );
    drop(leader_body);
    settle().await;
    assert!(!feed.is_closed(), "the upstream must not be cancelled");
    send(&feed, "two").await;
    send(&feed, "three").await;
    drop(feed);
    assert_eq!(
        follower.await.ok(),
        Some((["one", "two", "three"].map(Bytes::from).to_vec(), None))
    );
    // The whole answer is replayable.
    let late = follow(&idem, "k", 1).await;
    assert_eq!(read_all(late).await.0.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn without_followers_a_leaving_client_cancels_the_upstream() {
    let idem = idempotency();
    let leader = lead(&idem, "k", 1).await;
    let (feed, response) = fed_response(StatusCode::OK);
    let mut leader_body = leader.record(response).into_body().into_data_stream();
    send(&feed, "one").await;
    assert!(leader_body.next().await.is_some());
    drop(leader_body);
    assert!(feed.is_closed(), "the upstream body must be dropped");
    // The half answer is not replayed: a retry runs again.
    assert!(lead(&idem, "k", 1).await.is_tracked());
}

#[tokio::test(start_paused = true)]
async fn a_slow_follower_does_not_hold_back_the_leader() {
    let idem = idempotency();
    let leader = lead(&idem, "k", 1).await;
    let (feed, response) = fed_response(StatusCode::OK);
    let mut leader_body = leader.record(response).into_body().into_data_stream();
    let idle_follower = follow(&idem, "k", 1).await;
    for chunk in ["1", "2", "3"] {
        send(&feed, chunk).await;
        assert_eq!(
            leader_body.next().await.and_then(Result::ok),
            Some(Bytes::from(chunk))
        );
    }
    drop(feed);
    assert!(leader_body.next().await.is_none());
    assert_eq!(read_all(idle_follower).await.0.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn an_upstream_that_breaks_off_is_replayed_broken_and_then_released() {
    let idem = idempotency();
    let leader = lead(&idem, "k", 1).await;
    let (feed, response) = fed_response(StatusCode::OK);
    let leader_body = tokio::spawn(read_all(leader.record(response)));
    let follower = spawn_reader(follow(&idem, "k", 1).await, Arc::default());
    send(&feed, "partial").await;
    assert!(feed.send(Err(std::io::Error::other("reset"))).await.is_ok());
    let (leader_chunks, leader_error) = leader_body.await.unwrap_or_default();
    let Ok((follower_chunks, Some(follower_error))) = follower.await else {
        panic!("the follower must see the error")
    };
    assert_eq!(leader_chunks, vec![Bytes::from("partial")]);
    assert_eq!(follower_chunks, leader_chunks);
    assert!(leader_error.is_some_and(|e| e.contains("reset")));
    assert!(follower_error.contains("reset"), "{follower_error}");
    assert!(lead(&idem, "k", 1).await.is_tracked());
}

#[tokio::test(start_paused = true)]
async fn error_answers_that_invite_a_retry_are_shared_but_not_kept() {
    let idem = idempotency();
    let leader = lead(&idem, "k", 1).await;
    let (feed, response) = fed_response(StatusCode::SERVICE_UNAVAILABLE);
    let leader_body = tokio::spawn(read_all(leader.record(response)));
    let follower = follow(&idem, "k", 1).await;
    assert_eq!(follower.status(), StatusCode::SERVICE_UNAVAILABLE);
    send(&feed, "busy").await;
    drop(feed);
    assert!(leader_body.await.is_ok());
    assert_eq!(read_all(follower).await, (vec![Bytes::from("busy")], None));
    assert!(lead(&idem, "k", 1).await.is_tracked());

    // A client error is the answer, and is kept.
    let leader = lead(&idem, "bad", 1).await;
    let mut response = Response::new(Body::from("no"));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    assert!(read_all(leader.record(response)).await.1.is_none());
    assert_eq!(
        follow(&idem, "bad", 1).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn the_key_comes_from_either_header_trimmed_and_bounded() {
    let headers = |pairs: &[(&'static str, &str)]| {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(v) = HeaderValue::from_str(value) {
                map.append(*name, v);
            }
        }
        map
    };
    let key = |pairs: &[(&'static str, &str)]| {
        Idempotency::key_from_headers(&headers(pairs)).map(str::to_owned)
    };
    assert_eq!(key(&[("idempotency-key", " abc ")]), Some("abc".into()));
    assert_eq!(key(&[("x-idempotency-key", "xyz")]), Some("xyz".into()));
    assert_eq!(
        key(&[("x-idempotency-key", "xyz"), ("idempotency-key", "abc")]),
        Some("abc".into())
    );
    assert_eq!(key(&[("idempotency-key", "  ")]), None);
    assert_eq!(
        key(&[("idempotency-key", &"k".repeat(255))]).map(|k| k.len()),
        Some(255)
    );
    assert_eq!(key(&[("idempotency-key", &"k".repeat(256))]), None);
    assert_eq!(key(&[]), None);
}

#[test]
fn fingerprints_tell_requests_apart() {
    let post = http::Method::POST;
    let a = fingerprint(&post, "/v1/chat/completions", b"{}");
    assert_eq!(a, fingerprint(&post, "/v1/chat/completions", b"{}"));
    assert_ne!(a, fingerprint(&post, "/v1/completions", b"{}"));
    assert_ne!(a, fingerprint(&post, "/v1/chat/completions", b"{ }"));
    assert_ne!(
        a,
        fingerprint(&http::Method::PUT, "/v1/chat/completions", b"{}")
    );
}

/// Many readers on several threads joining and leaving while the leader streams: nobody
/// hangs, and everyone who reads to the end gets exactly the leader's chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_readers_on_many_threads_never_hang_or_diverge() {
    const CHUNKS: usize = 40;
    for round in 0..30 {
        let idem = idempotency();
        let key = format!("k{round}");
        let leader = lead(&idem, &key, 1).await;
        let (feed, response) = fed_response(StatusCode::OK);
        let leader_response = leader.record(response);
        let attached = Arc::new(tokio::sync::Barrier::new(21));
        let mut readers = Vec::new();
        for i in 0..20 {
            let (idem, key, attached) = (idem.clone(), key.clone(), Arc::clone(&attached));
            readers.push(tokio::spawn(async move {
                let response = follow(&idem, &key, 1).await;
                attached.wait().await;
                let mut body = response.into_body().into_data_stream();
                let mut chunks = Vec::new();
                while let Some(Ok(chunk)) = body.next().await {
                    chunks.push(chunk);
                    // Some readers leave half-way; their leaving must not stall the rest.
                    if i % 5 == 4 && chunks.len() == CHUNKS / 2 {
                        return None;
                    }
                }
                Some(chunks)
            }));
        }
        attached.wait().await;
        // The leader's client leaves half-way in every other round.
        let leaves = round % 2 == 0;
        let leader_task = tokio::spawn(async move {
            let mut body = leader_response.into_body().into_data_stream();
            let mut n = 0;
            while let Some(Ok(_)) = body.next().await {
                n += 1;
                if leaves && n == CHUNKS / 2 {
                    break;
                }
            }
        });
        for n in 0..CHUNKS {
            if feed.send(Ok(Bytes::from(n.to_string()))).await.is_err() {
                panic!("round {round}: the upstream was cancelled with readers attached");
            }
            if n % 7 == 0 {
                tokio::task::yield_now().await;
            }
        }
        drop(feed);
        let expected: Vec<Bytes> = (0..CHUNKS).map(|n| Bytes::from(n.to_string())).collect();
        for reader in readers {
            let result = tokio::time::timeout(Duration::from_secs(10), reader).await;
            match result {
                Ok(Ok(Some(chunks))) => assert_eq!(chunks, expected, "round {round}"),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => panic!("round {round}: reader failed: {e}"),
                Err(_) => panic!("round {round}: a reader hangs"),
            }
        }
        assert!(leader_task.await.is_ok());
    }
}
