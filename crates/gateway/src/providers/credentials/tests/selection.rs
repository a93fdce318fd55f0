//! API-key pools: round-robin and fill-first, 429 cooldowns, 401/403, breakers, status.

use std::time::Duration;

use serde_json::json;
use tokio::time::advance;

use super::*;
use crate::routing::health::{BreakerState, backoff_ceiling};

fn rate_limited(secs: Option<f64>) -> CredentialOutcome {
    CredentialOutcome::RateLimited {
        retry_after: secs.map(Duration::from_secs_f64),
    }
}

#[tokio::test(start_paused = true)]
async fn round_robin_rotates_and_skips_cooling_credentials() {
    let pool = key_pool(3, PoolStrategy::RoundRobin);
    assert_eq!(order(&pool, 6).await, [0, 1, 2, 0, 1, 2]);
    let lease = take(&pool).await;
    assert_eq!(lease.index, 0);
    pool.report(&lease, rate_limited(Some(10.0)));
    assert_eq!(order(&pool, 4).await, [1, 2, 1, 2]);
    advance(Duration::from_secs(10)).await;
    assert_eq!(order(&pool, 3).await, [0, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn fill_first_takes_the_first_usable_credential() {
    let pool = key_pool(3, PoolStrategy::FillFirst);
    assert_eq!(order(&pool, 3).await, [0, 0, 0]);
    let lease = take(&pool).await;
    pool.report(&lease, rate_limited(Some(5.0)));
    assert_eq!(order(&pool, 2).await, [1, 1]);
    let lease = pool.acquire(&http(), &[1]).await.expect("a credential");
    assert_eq!(lease.index, 2, "exclude asks for another credential");
    pool.report(&lease, CredentialOutcome::Neutral);
    advance(Duration::from_secs(5)).await;
    assert_eq!(order(&pool, 2).await, [0, 0]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_exactly() {
    let pool = key_pool(1, PoolStrategy::RoundRobin);
    let lease = take(&pool).await;
    pool.report(&lease, rate_limited(Some(7.0)));
    let status = &pool.snapshot()[0];
    assert_eq!(status.state, CredentialState::CoolingDown);
    assert_eq!(status.cooling_down_for_ms, Some(7000));

    let error = pool.acquire(&http(), &[]).await.expect_err("cooling down");
    assert_eq!(next_available(&error), Some(Duration::from_secs(7)));
    advance(Duration::from_millis(6900)).await;
    let error = pool
        .acquire(&http(), &[])
        .await
        .expect_err("still cooling down");
    assert_eq!(next_available(&error), Some(Duration::from_millis(100)));
    advance(Duration::from_millis(200)).await;
    assert_eq!(take(&pool).await.index, 0);
    assert_eq!(pool.snapshot()[0].state, CredentialState::Active);
}

#[tokio::test(start_paused = true)]
async fn backoff_without_retry_after_grows_within_the_cap() {
    let cfg = CooldownConfig {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
    };
    let mut longest = [0u64; 10];
    for _ in 0..20 {
        let pool = CredentialPool::new(
            api_keys(1),
            PoolStrategy::RoundRobin,
            cfg.clone(),
            BreakerConfig::default(),
        );
        let lease = take(&pool).await;
        for (attempt, longest) in (0u32..).zip(longest.iter_mut()) {
            pool.report(&lease, rate_limited(None));
            let ms = pool.snapshot()[0].cooling_down_for_ms.unwrap_or(0);
            let ceiling = backoff_ceiling(attempt, cfg.base, cfg.cap).as_millis();
            assert!(u128::from(ms) <= ceiling, "attempt {attempt}: {ms} ms");
            *longest = (*longest).max(ms);
        }
    }
    assert!(longest[0] <= 1000 && longest[9] <= 60_000);
    // Full jitter: twenty draws below 4 s out of [0, 60 s] would be a broken backoff.
    assert!(longest[8] > 4000, "{longest:?}");

    // A success resets the exponent: the next cooldown is at most `base`.
    let pool = CredentialPool::new(
        api_keys(1),
        PoolStrategy::RoundRobin,
        cfg.clone(),
        BreakerConfig::default(),
    );
    let lease = take(&pool).await;
    for _ in 0..6 {
        pool.report(&lease, rate_limited(None));
    }
    advance(cfg.cap).await;
    let lease = take(&pool).await;
    pool.report(&lease, CredentialOutcome::Success);
    pool.report(&lease, rate_limited(None));
    let ms = pool.snapshot()[0].cooling_down_for_ms.unwrap_or(0);
    assert!(ms <= 1000, "{ms} ms");
}

#[tokio::test(start_paused = true)]
async fn all_cooling_down_is_exhausted_with_the_soonest_return() {
    let pool = key_pool(2, PoolStrategy::RoundRobin);
    for secs in [5.0, 3.0] {
        let lease = take(&pool).await;
        pool.report(&lease, rate_limited(Some(secs)));
    }
    let error = pool
        .acquire(&http(), &[])
        .await
        .expect_err("all cooling down");
    assert_eq!(next_available(&error), Some(Duration::from_secs(3)));
    assert_eq!(
        reasons(&error),
        [
            "keys[0]: cooling down for 5000 ms after 429",
            "keys[1]: cooling down for 3000 ms after 429",
        ]
    );
    let message = error.to_string();
    assert!(
        message.starts_with("no usable credential (keys[0]"),
        "{message}"
    );
    assert!(
        message.ends_with("; next available in 3000 ms"),
        "{message}"
    );

    let error = pool.acquire(&http(), &[0, 1]).await.expect_err("all tried");
    assert_eq!(reasons(&error)[0], "keys[0]: already tried");
}

#[tokio::test(start_paused = true)]
async fn unauthorized_api_key_is_disabled_until_enabled() {
    let pool = key_pool(2, PoolStrategy::RoundRobin);
    let lease = take(&pool).await;
    let message = format!("Incorrect API key provided. {}", "x".repeat(500));
    pool.report(
        &lease,
        CredentialOutcome::Unauthorized {
            status: 401,
            message,
        },
    );
    let status = &pool.snapshot()[0];
    assert_eq!(status.state, CredentialState::Disabled);
    let reason = status.disabled_reason.as_deref().expect("a reason");
    assert!(
        reason.starts_with("401: Incorrect API key provided. xxx"),
        "{reason}"
    );
    assert!(reason.chars().count() <= 201, "truncated: {reason}");
    assert_eq!(status.failures, 1);

    advance(Duration::from_secs(3600)).await;
    assert_eq!(order(&pool, 3).await, [1, 1, 1], "disabled does not expire");
    let lease = take(&pool).await;
    let forbidden = CredentialOutcome::Unauthorized {
        status: 403,
        message: "forbidden".into(),
    };
    pool.report(&lease, forbidden);
    let error = pool.acquire(&http(), &[]).await.expect_err("both disabled");
    assert_eq!(
        next_available(&error),
        None,
        "only an edit brings them back"
    );
    assert!(reasons(&error)[1].starts_with("keys[1]: disabled (403: forbidden)"));

    pool.enable(0);
    assert_eq!(pool.snapshot()[0].state, CredentialState::Active);
    assert_eq!(pool.snapshot()[0].disabled_reason, None);
    assert_eq!(order(&pool, 2).await, [0, 0]);
}

#[tokio::test(start_paused = true)]
async fn breaker_opens_after_repeated_failures() {
    let breaker = BreakerConfig {
        consecutive_failures: 3,
        open_for: Duration::from_secs(30),
        ..BreakerConfig::default()
    };
    let pool = CredentialPool::new(
        api_keys(2),
        PoolStrategy::FillFirst,
        CooldownConfig::default(),
        breaker,
    );
    for _ in 0..3 {
        let lease = take(&pool).await;
        assert_eq!(lease.index, 0);
        pool.report(&lease, CredentialOutcome::Failure);
    }
    let status = &pool.snapshot()[0];
    assert_eq!(status.breaker.state, BreakerState::Open);
    assert_eq!(status.state, CredentialState::Active);
    assert_eq!(order(&pool, 2).await, [1, 1], "the open breaker is skipped");

    let error = pool.acquire(&http(), &[1]).await.expect_err("breaker open");
    assert_eq!(next_available(&error), Some(Duration::from_secs(30)));
    assert_eq!(reasons(&error)[0], "keys[0]: circuit open for 30000 ms");

    advance(Duration::from_secs(30)).await;
    let probe = take(&pool).await;
    assert_eq!(probe.index, 0, "the half-open probe");
    pool.report(&probe, CredentialOutcome::Success);
    assert_eq!(pool.snapshot()[0].breaker.state, BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn neutral_outcomes_and_empty_pools() {
    let pool = key_pool(1, PoolStrategy::RoundRobin);
    let lease = take(&pool).await;
    pool.report(&lease, CredentialOutcome::Neutral);
    let status = &pool.snapshot()[0];
    assert_eq!((status.successes, status.failures), (0, 0));
    assert_eq!(status.state, CredentialState::Active);

    let empty = key_pool(0, PoolStrategy::RoundRobin);
    assert!(empty.is_empty());
    let error = empty
        .acquire(&http(), &[])
        .await
        .expect_err("no credentials");
    assert_eq!(error, PoolError::Empty);
}

#[tokio::test(start_paused = true)]
async fn snapshot_shows_state_but_never_the_secret() {
    let pool = key_pool(2, PoolStrategy::RoundRobin);
    let lease = take(&pool).await;
    assert_eq!(lease.token.expose(), "sk-secret-0");
    pool.report(&lease, rate_limited(Some(2.0)));
    let json = serde_json::to_value(pool.snapshot()).expect("serializable");
    assert_eq!(
        json[0],
        json!({
            "label": "keys[0]",
            "kind": "api_key",
            "state": "cooling_down",
            "cooling_down_for_ms": 2000,
            "disabled_reason": null,
            "breaker": {
                "state": "closed",
                "consecutive_failures": 0,
                "window_requests": 0,
                "window_failures": 0,
                "opened_for_remaining_ms": null
            },
            "token_expires_in_s": null,
            "successes": 0,
            "failures": 1
        })
    );
    assert_eq!(json[1]["state"], "active");
    assert!(!json.to_string().contains("sk-secret"));
    assert!(!format!("{pool:?} {lease:?}").contains("sk-secret"));
}

#[test]
fn strategy_and_cooldown_config_parse() {
    assert_eq!("round_robin".parse(), Ok(PoolStrategy::RoundRobin));
    assert_eq!("fill_first".parse(), Ok(PoolStrategy::FillFirst));
    assert!("random".parse::<PoolStrategy>().is_err());
    let d = CooldownConfig::default();
    assert_eq!(
        (d.base, d.cap),
        (Duration::from_secs(1), Duration::from_secs(300))
    );
    let parsed: CooldownConfig =
        serde_json::from_value(json!({"cap": "2m"})).expect("valid config");
    assert_eq!(
        (parsed.base, parsed.cap),
        (Duration::from_secs(1), Duration::from_secs(120))
    );
    assert!(serde_json::from_value::<CooldownConfig>(json!({"max": "1s"})).is_err());
}
