//! Quota parsing for both header families, and exhaustion ending with (paused) time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use tokio::time::{Instant, advance};

use super::*;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_static(v));
    }
    h
}

/// 2024-05-01T12:00:00Z, the wall clock the Anthropic fixtures are written against.
fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_714_564_800)
}

#[tokio::test(start_paused = true)]
async fn openai_headers_with_room_left() {
    let q = Quota::new();
    q.observe(&headers(&[
        ("x-ratelimit-limit-requests", "5000"),
        ("x-ratelimit-remaining-requests", "4999"),
        ("x-ratelimit-remaining-tokens", "159976"),
        ("x-ratelimit-reset-requests", "12ms"),
        ("x-ratelimit-reset-tokens", "9ms"),
    ]));
    assert!(!q.is_exhausted());
    let snap = q.snapshot();
    assert_eq!(snap.remaining_requests, Some(4999));
    assert_eq!(snap.remaining_tokens, Some(159_976));
    assert_eq!(snap.exhausted_for_ms, None);
}

#[tokio::test(start_paused = true)]
async fn openai_spent_window_lasts_until_its_reset() {
    let q = Quota::new();
    let start = Instant::now();
    q.observe(&headers(&[
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "6m0s"),
        ("x-ratelimit-remaining-tokens", "1000"),
        ("x-ratelimit-reset-tokens", "1s"),
    ]));
    assert_eq!(q.exhausted_until(), Some(start + Duration::from_secs(360)));
    let snap = q.snapshot();
    assert_eq!(snap.exhausted_by, Some(QuotaWindow::Requests));
    assert_eq!(snap.exhausted_for_ms, Some(360_000));
    advance(Duration::from_secs(359)).await;
    assert!(q.is_exhausted());
    advance(Duration::from_secs(1)).await;
    assert!(!q.is_exhausted());
    assert_eq!(q.exhausted_until(), None);
    assert_eq!(q.snapshot().exhausted_by, None);
}

#[tokio::test(start_paused = true)]
async fn the_latest_reset_of_several_spent_windows_wins() {
    let q = Quota::new();
    let start = Instant::now();
    q.observe(&headers(&[
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "20ms"),
        ("x-ratelimit-remaining-tokens", "0"),
        ("x-ratelimit-reset-tokens", "1h2m3.5s"),
    ]));
    assert_eq!(
        q.exhausted_until(),
        Some(start + Duration::from_millis(3_723_500))
    );
    assert_eq!(q.snapshot().exhausted_by, Some(QuotaWindow::Tokens));
}

#[tokio::test(start_paused = true)]
async fn anthropic_headers_reset_at_a_timestamp() {
    let q = Quota::new();
    let start = Instant::now();
    q.observe_at(
        &headers(&[
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-requests-reset", "2024-05-01T12:00:01Z"),
            ("anthropic-ratelimit-tokens-remaining", "0"),
            ("anthropic-ratelimit-tokens-reset", "2024-05-01T12:00:30Z"),
            ("anthropic-ratelimit-input-tokens-remaining", "0"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "2024-05-01T12:00:30Z",
            ),
            ("anthropic-ratelimit-output-tokens-remaining", "8000"),
            (
                "anthropic-ratelimit-output-tokens-reset",
                "2024-05-01T12:00:02Z",
            ),
        ]),
        start,
        wall(),
    );
    assert_eq!(q.exhausted_until(), Some(start + Duration::from_secs(30)));
    let snap = q.snapshot();
    assert_eq!(snap.remaining_requests, Some(49));
    assert_eq!(snap.remaining_tokens, Some(0));
    advance(Duration::from_secs(30)).await;
    assert!(!q.is_exhausted());
}

#[tokio::test(start_paused = true)]
async fn anthropic_output_tokens_alone_can_exhaust() {
    let q = Quota::new();
    let start = Instant::now();
    q.observe_at(
        &headers(&[
            ("anthropic-ratelimit-output-tokens-remaining", "0"),
            (
                "anthropic-ratelimit-output-tokens-reset",
                "2024-05-01T14:00:05+02:00",
            ),
        ]),
        start,
        wall(),
    );
    assert_eq!(q.exhausted_until(), Some(start + Duration::from_secs(5)));
    assert_eq!(q.snapshot().exhausted_by, Some(QuotaWindow::OutputTokens));
}

#[tokio::test(start_paused = true)]
async fn a_reset_in_the_past_is_not_exhausted() {
    let q = Quota::new();
    q.observe_at(
        &headers(&[
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("anthropic-ratelimit-requests-reset", "2024-05-01T11:59:00Z"),
        ]),
        Instant::now(),
        wall(),
    );
    assert!(!q.is_exhausted());
}

#[tokio::test(start_paused = true)]
async fn unreadable_reset_uses_the_fallback() {
    let q = Quota::new();
    let start = Instant::now();
    q.observe(&headers(&[
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "soon"),
    ]));
    assert_eq!(q.exhausted_until(), Some(start + FALLBACK_RESET));
}

#[tokio::test(start_paused = true)]
async fn negative_and_malformed_counts_are_ignored() {
    let q = Quota::new();
    q.observe(&headers(&[
        ("x-ratelimit-remaining-tokens", "-1"),
        ("x-ratelimit-reset-tokens", "0"),
        ("x-ratelimit-remaining-requests", "lots"),
    ]));
    assert!(!q.is_exhausted());
    assert_eq!(q.snapshot().remaining_tokens, None);
    assert_eq!(q.snapshot().remaining_requests, None);
}

#[tokio::test(start_paused = true)]
async fn exhaustion_is_never_shortened() {
    let q = Quota::new();
    let start = Instant::now();
    q.mark_exhausted(start + Duration::from_secs(10));
    q.observe(&headers(&[
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "2s"),
    ]));
    q.observe(&headers(&[("x-ratelimit-remaining-requests", "10")]));
    assert_eq!(q.exhausted_until(), Some(start + Duration::from_secs(10)));
    assert_eq!(q.snapshot().exhausted_by, Some(QuotaWindow::RateLimited));
    advance(Duration::from_secs(10)).await;
    assert!(!q.is_exhausted());
}

#[tokio::test(start_paused = true)]
async fn resets_are_capped() {
    let q = Quota::new();
    let start = Instant::now();
    q.observe(&headers(&[
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "100000h"),
    ]));
    assert_eq!(q.exhausted_until(), Some(start + MAX_EXHAUSTION));
}

#[tokio::test(start_paused = true)]
async fn snapshot_serializes() {
    let q = Quota::new();
    q.observe(&headers(&[
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "1s"),
    ]));
    let v = serde_json::to_value(q.snapshot()).expect("serializes");
    assert_eq!(
        v,
        serde_json::json!({
            "exhausted_for_ms": 1000,
            "exhausted_by": "requests",
            "remaining_requests": 0,
            "remaining_tokens": null,
        })
    );
}
