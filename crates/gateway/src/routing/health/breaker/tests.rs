//! Breaker behaviour under paused time: opening rules, half-open probes, the sliding window.

use std::time::Duration;

use tokio::time::advance;

use super::*;

fn cfg() -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: 3,
        error_rate: 0.5,
        min_requests: 10,
        window: Duration::from_secs(10),
        open_for: Duration::from_secs(30),
    }
}

fn fail(b: &Breaker) {
    let a = b.try_acquire().expect("closed breaker admits");
    b.record_failure(a);
}

fn succeed(b: &Breaker) {
    let a = b.try_acquire().expect("closed breaker admits");
    b.record_success(a);
}

/// Opens the breaker through consecutive failures.
fn open(b: &Breaker) {
    for _ in 0..b.config().consecutive_failures {
        fail(b);
    }
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn defaults_and_config_parsing() {
    let d = BreakerConfig::default();
    assert_eq!(d.consecutive_failures, 5);
    assert_eq!(d.min_requests, 20);
    assert_eq!(d.window, Duration::from_secs(60));
    assert_eq!(d.open_for, Duration::from_secs(30));
    let parsed: BreakerConfig =
        serde_json::from_value(serde_json::json!({"open_for": "2m", "error_rate": 0.25}))
            .expect("valid config");
    assert_eq!(parsed.open_for, Duration::from_secs(120));
    assert!((parsed.error_rate - 0.25).abs() < f64::EPSILON);
    assert_eq!(parsed.consecutive_failures, 5);
    let unknown = serde_json::from_value::<BreakerConfig>(serde_json::json!({"open": "1s"}));
    assert!(unknown.is_err());
}

#[tokio::test(start_paused = true)]
async fn opens_after_n_consecutive_failures() {
    let b = Breaker::new(cfg());
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), BreakerState::Closed);
    fail(&b);
    assert_eq!(b.state(), BreakerState::Open);
    assert!(b.try_acquire().is_none());
    assert!(!b.is_available());
    let snap = b.snapshot();
    assert_eq!(snap.opened_for_remaining_ms, Some(30_000));
    assert_eq!(snap.consecutive_failures, 3);
}

#[tokio::test(start_paused = true)]
async fn a_success_resets_the_consecutive_count() {
    let b = Breaker::new(cfg());
    fail(&b);
    fail(&b);
    succeed(&b);
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().consecutive_failures, 2);
}

#[tokio::test(start_paused = true)]
async fn opens_on_error_rate_only_with_enough_requests() {
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 0,
        ..cfg()
    });
    // 9 outcomes, all failures: below min_requests, stays closed.
    for _ in 0..9 {
        fail(&b);
    }
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().window_failures, 9);
    // The tenth outcome reaches min_requests with a 100% failure rate.
    fail(&b);
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn error_rate_below_threshold_stays_closed() {
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 0,
        ..cfg()
    });
    for _ in 0..6 {
        succeed(&b);
    }
    for _ in 0..4 {
        fail(&b);
    }
    // 4 of 10 = 40% < 50%.
    assert_eq!(b.state(), BreakerState::Closed);
    fail(&b);
    fail(&b);
    // 6 of 12 = 50%.
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn window_forgets_old_failures() {
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 0,
        ..cfg()
    });
    for _ in 0..9 {
        fail(&b);
    }
    assert_eq!(b.snapshot().window_requests, 9);
    advance(Duration::from_secs(10)).await;
    assert_eq!(b.snapshot().window_requests, 0);
    // Old failures no longer count towards the rate.
    for _ in 0..6 {
        succeed(&b);
    }
    for _ in 0..4 {
        fail(&b);
    }
    assert_eq!(b.state(), BreakerState::Closed);
    let snap = b.snapshot();
    assert_eq!((snap.window_requests, snap.window_failures), (10, 4));
}

#[tokio::test(start_paused = true)]
async fn window_slides_bucket_by_bucket() {
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 0,
        ..cfg()
    });
    fail(&b);
    advance(Duration::from_secs(5)).await;
    fail(&b);
    advance(Duration::from_secs(5)).await;
    // The first failure is a whole window old; the second is half a window old.
    assert_eq!(b.snapshot().window_failures, 1);
}

#[tokio::test(start_paused = true)]
async fn half_open_lets_exactly_one_probe_through() {
    let b = Breaker::new(cfg());
    open(&b);
    advance(Duration::from_secs(29)).await;
    assert!(b.try_acquire().is_none());
    assert_eq!(b.snapshot().opened_for_remaining_ms, Some(1_000));
    advance(Duration::from_secs(1)).await;
    assert!(b.is_available());
    assert_eq!(b.state(), BreakerState::HalfOpen);
    let probe = b.try_acquire();
    assert_eq!(probe, Some(Admission::Probe));
    assert!(!b.is_available());
    assert!(b.try_acquire().is_none());
    assert!(b.try_acquire().is_none());
}

#[tokio::test(start_paused = true)]
async fn concurrent_acquires_get_one_probe() {
    let b = std::sync::Arc::new(Breaker::new(cfg()));
    open(&b);
    advance(Duration::from_secs(30)).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let b = b.clone();
            tokio::spawn(async move { b.try_acquire() })
        })
        .collect();
    let mut probes = 0;
    for t in tasks {
        match t.await.expect("task runs") {
            Some(Admission::Probe) => probes += 1,
            Some(Admission::Normal) => panic!("half-open breaker admitted a normal request"),
            None => {}
        }
    }
    assert_eq!(probes, 1);
}

#[tokio::test(start_paused = true)]
async fn probe_success_closes_and_resets() {
    let b = Breaker::new(cfg());
    open(&b);
    advance(Duration::from_secs(30)).await;
    let probe = b.try_acquire().expect("probe");
    b.record_success(probe);
    let snap = b.snapshot();
    assert_eq!(snap.state, BreakerState::Closed);
    assert_eq!((snap.consecutive_failures, snap.window_requests), (0, 0));
    assert_eq!(b.try_acquire(), Some(Admission::Normal));
}

#[tokio::test(start_paused = true)]
async fn probe_failure_reopens_with_a_fresh_timer() {
    let b = Breaker::new(cfg());
    open(&b);
    advance(Duration::from_secs(30)).await;
    let probe = b.try_acquire().expect("probe");
    advance(Duration::from_secs(5)).await;
    b.record_failure(probe);
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.snapshot().opened_for_remaining_ms, Some(30_000));
    advance(Duration::from_secs(29)).await;
    assert!(b.try_acquire().is_none());
    advance(Duration::from_secs(1)).await;
    assert_eq!(b.try_acquire(), Some(Admission::Probe));
}

#[tokio::test(start_paused = true)]
async fn release_frees_the_probe() {
    let b = Breaker::new(cfg());
    open(&b);
    advance(Duration::from_secs(30)).await;
    let probe = b.try_acquire().expect("probe");
    assert!(b.try_acquire().is_none());
    b.release(probe);
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(b.is_available());
    assert_eq!(b.try_acquire(), Some(Admission::Probe));
}

#[tokio::test(start_paused = true)]
async fn a_lost_probe_is_replaced_after_open_for() {
    let b = Breaker::new(cfg());
    open(&b);
    advance(Duration::from_secs(30)).await;
    let _lost = b.try_acquire().expect("probe");
    advance(Duration::from_secs(29)).await;
    assert!(b.try_acquire().is_none());
    advance(Duration::from_secs(1)).await;
    assert_eq!(b.try_acquire(), Some(Admission::Probe));
}

#[tokio::test(start_paused = true)]
async fn late_outcomes_do_not_move_an_open_breaker() {
    let b = Breaker::new(cfg());
    let straggler = b.try_acquire().expect("closed");
    open(&b);
    b.record_success(straggler);
    assert_eq!(b.state(), BreakerState::Open);
    b.record_failure(Admission::Normal);
    advance(Duration::from_secs(30)).await;
    assert_eq!(b.try_acquire(), Some(Admission::Probe));
}

#[tokio::test(start_paused = true)]
async fn release_of_a_normal_admission_changes_nothing() {
    let b = Breaker::new(cfg());
    fail(&b);
    let a = b.try_acquire().expect("closed");
    b.release(a);
    let snap = b.snapshot();
    assert_eq!((snap.consecutive_failures, snap.window_requests), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn snapshot_serializes_snake_case() {
    let b = Breaker::new(cfg());
    open(&b);
    advance(Duration::from_secs(30)).await;
    let v = serde_json::to_value(b.snapshot()).expect("serializes");
    assert_eq!(v["state"], "half_open");
    assert_eq!(v["opened_for_remaining_ms"], serde_json::Value::Null);
}
