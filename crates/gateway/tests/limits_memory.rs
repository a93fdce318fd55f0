//! The limits engine on its memory backend: each limit holds exactly, refusals leave
//! nothing counted, tokens reconcile, budgets reserve and settle. Windows are tested with
//! tokio's paused clock.

use std::time::Duration;

use gateway::limits::{
    Backend, Budget, BudgetPeriod, LimitSpec, Limiter, RedisStatus, Refusal, Scope, Subject,
};

fn rpm(n: u64) -> LimitSpec {
    LimitSpec {
        rpm: Some(n),
        ..LimitSpec::default()
    }
}

fn budget(limit_micros: i64) -> LimitSpec {
    LimitSpec {
        budget: Some(Budget {
            limit_micros,
            period: BudgetPeriod::Month,
        }),
        ..LimitSpec::default()
    }
}

#[tokio::test(start_paused = true)]
async fn requests_per_minute_hold_exactly_and_the_window_slides() {
    let limiter = Limiter::memory();
    let subject = Subject::key("k1", rpm(5));
    let mut held = Vec::new();
    for left in (0..5).rev() {
        let (admission, headers) = limiter.admit(&subject, 0, 0).await.expect("admitted");
        assert_eq!(headers.limit_requests, Some(5));
        assert_eq!(headers.remaining_requests, left);
        assert_eq!(admission.backend(), Some(Backend::Memory));
        held.push(admission);
    }
    tokio::time::advance(Duration::from_secs(30)).await;
    let refusal = limiter
        .admit(&subject, 0, 0)
        .await
        .expect_err("sixth refused");
    let Refusal::Requests {
        who,
        limit,
        retry_after,
    } = &refusal
    else {
        panic!("expected a requests refusal, got {refusal:?}");
    };
    assert_eq!((who.scope, who.id.as_str(), *limit), (Scope::Key, "k1", 5));
    assert_eq!(
        *retry_after,
        Duration::from_secs(31),
        "the first second ends at 61 s"
    );
    assert!(refusal.to_string().contains("key 'k1'"), "{refusal}");
    assert_eq!(refusal.retry_after(), Some(Duration::from_secs(31)));

    // Still refused just before the retry time, admitted right at it.
    tokio::time::advance(Duration::from_millis(30_999)).await;
    assert!(limiter.admit(&subject, 0, 0).await.is_err());
    tokio::time::advance(Duration::from_millis(1)).await;
    let (_, headers) = limiter.admit(&subject, 0, 0).await.expect("window slid");
    assert_eq!(headers.remaining_requests, 4);
    assert_eq!(limiter.redis_status(), RedisStatus::Disabled);
}

#[tokio::test(start_paused = true)]
async fn many_requests_in_a_burst_admit_exactly_the_limit() {
    let limiter = Limiter::memory();
    let subject = Subject::key("k1", rpm(100));
    let mut admitted = 0;
    for _ in 0..600 {
        if let Ok((admission, _)) = limiter.admit(&subject, 0, 0).await {
            limiter.settle(admission, 0, 0).await;
            admitted += 1;
        }
        tokio::time::advance(Duration::from_millis(50)).await;
    }
    // 600 requests over 30 s: all inside one window.
    assert_eq!(admitted, 100);
}

#[tokio::test(start_paused = true)]
async fn a_refusal_leaves_nothing_counted_and_the_stricter_limit_wins() {
    let limiter = Limiter::memory();
    let user = LimitSpec {
        max_concurrent: Some(1),
        rpm: Some(50),
        ..LimitSpec::default()
    };
    let subject = Subject::key("k1", rpm(5)).with_user("alice", user);

    let (first, headers) = limiter.admit(&subject, 0, 0).await.expect("first");
    // The key has 4 left, the user 49: the headers report the key's.
    assert_eq!(
        (headers.limit_requests, headers.remaining_requests),
        (Some(5), 4)
    );

    for _ in 0..10 {
        let refusal = limiter.admit(&subject, 0, 0).await.expect_err("user busy");
        assert!(matches!(refusal, Refusal::Concurrency { limit: 1, .. }));
        assert_eq!(refusal.who().scope, Scope::User);
    }
    limiter.settle(first, 0, 0).await;

    // The ten refusals did not count against the key's 5 per minute.
    for _ in 0..4 {
        let (a, _) = limiter.admit(&subject, 0, 0).await.expect("key has room");
        limiter.settle(a, 0, 0).await;
    }
    let refusal = limiter.admit(&subject, 0, 0).await.expect_err("key spent");
    assert!(matches!(refusal, Refusal::Requests { limit: 5, .. }));
    assert_eq!(refusal.who().scope, Scope::Key);
}

#[tokio::test(start_paused = true)]
async fn tokens_per_minute_reconcile_to_the_actual_count() {
    let limiter = Limiter::memory();
    let spec = LimitSpec {
        tpm: Some(1000),
        ..LimitSpec::default()
    };
    let subject = Subject::key("k1", spec);
    let (a, headers) = limiter.admit(&subject, 600, 0).await.expect("600 fit");
    assert_eq!(
        (headers.limit_tokens, headers.remaining_tokens),
        (Some(1000), 400)
    );
    assert_eq!(headers.limit_requests, None);
    assert_eq!(headers.to_pairs().len(), 3, "token headers only");

    tokio::time::advance(Duration::from_secs(10)).await;
    let refusal = limiter
        .admit(&subject, 500, 0)
        .await
        .expect_err("1100 > 1000");
    assert!(
        matches!(refusal, Refusal::Tokens { limit: 1000, requested: 500, retry_after, .. }
            if retry_after == Duration::from_secs(51)),
        "{refusal:?}"
    );

    // The call used 100 tokens, not 600: 900 are free again.
    limiter.settle(a, 100, 0).await;
    let (b, headers) = limiter
        .admit(&subject, 500, 0)
        .await
        .expect("100 + 500 fit");
    assert_eq!(headers.remaining_tokens, 400);
    // This one used more than estimated: 100 + 900 = 1000, nothing left.
    limiter.settle(b, 900, 0).await;
    let refusal = limiter.admit(&subject, 1, 0).await.expect_err("full");
    assert!(matches!(refusal, Refusal::Tokens { .. }));

    // A request larger than the limit never fits, and says so.
    let refusal = limiter.admit(&subject, 5000, 0).await.expect_err("too big");
    assert!(refusal.to_string().contains("exceed"), "{refusal}");

    tokio::time::advance(Duration::from_secs(61)).await;
    let (_, headers) = limiter.admit(&subject, 1000, 0).await.expect("window slid");
    assert_eq!(headers.remaining_tokens, 0);
}

#[tokio::test(start_paused = true)]
async fn concurrency_holds_exactly_under_concurrent_admits() {
    let limiter = Limiter::memory();
    let spec = LimitSpec {
        max_concurrent: Some(3),
        ..LimitSpec::default()
    };
    let subject = Subject::key("k1", spec);
    let attempts = (0..50).map(|_| {
        let limiter = limiter.clone();
        let subject = subject.clone();
        tokio::spawn(async move { limiter.admit(&subject, 0, 0).await.ok() })
    });
    let mut held = Vec::new();
    for task in attempts {
        if let Some((admission, _)) = task.await.expect("task") {
            held.push(admission);
        }
    }
    assert_eq!(held.len(), 3);

    // Settling one frees one slot; dropping the others frees theirs.
    limiter.settle(held.pop().expect("held"), 0, 0).await;
    let (again, _) = limiter.admit(&subject, 0, 0).await.expect("a slot is free");
    assert!(limiter.admit(&subject, 0, 0).await.is_err());
    drop(held);
    drop(again);
    let mut fresh = Vec::new();
    for _ in 0..3 {
        fresh.push(limiter.admit(&subject, 0, 0).await.expect("all free"));
    }
}

#[tokio::test]
async fn concurrent_admits_never_overspend_by_more_than_one_reservation() {
    let limiter = Limiter::memory();
    let limit = 1_000_000;
    let reservation = 30_000;
    let subject = Subject::key("k1", budget(limit)).with_user("alice", budget(10 * limit));
    let attempts = (0..100).map(|_| {
        let limiter = limiter.clone();
        let subject = subject.clone();
        tokio::spawn(async move { limiter.admit(&subject, 0, reservation).await })
    });
    let mut held = Vec::new();
    for task in attempts {
        match task.await.expect("task") {
            Ok((admission, _)) => held.push(admission),
            Err(refusal) => assert!(matches!(refusal, Refusal::Budget { .. }), "{refusal}"),
        }
    }
    let reserved = i64::try_from(held.len()).expect("small") * reservation;
    assert!(reserved < limit + reservation, "reserved {reserved}");
    assert!(reserved >= limit, "admitted until the budget was reached");
    assert_eq!(held.len(), 34);

    // Settle every call at a third of its estimate: 34 × 10 000 spent, room again.
    for admission in held {
        limiter.settle(admission, 0, 10_000).await;
    }
    let refusal = loop {
        match limiter.admit(&subject, 0, reservation).await {
            Ok((admission, _)) => limiter.settle(admission, 0, reservation).await,
            Err(refusal) => break refusal,
        }
    };
    let Refusal::Budget {
        spent,
        limit: l,
        period,
        resets_in,
        ..
    } = refusal
    else {
        panic!("expected a budget refusal");
    };
    assert_eq!(
        (spent, l, period),
        (340_000 + 22 * 30_000, limit, BudgetPeriod::Month)
    );
    assert!(resets_in.is_some_and(|d| d <= Duration::from_secs(31 * 86_400)));
}

#[tokio::test]
async fn failed_calls_cost_nothing_and_dropped_admissions_release_their_reservation() {
    let limiter = Limiter::memory();
    let subject = Subject::key("k1", budget(100));
    let spent_now = |r: Refusal| match r {
        Refusal::Budget { spent, .. } => spent,
        other => panic!("expected a budget refusal, got {other:?}"),
    };

    // A reservation larger than the budget is admitted while nothing is spent...
    let (a, _) = limiter
        .admit(&subject, 0, 1000)
        .await
        .expect("under budget");
    assert_eq!(a.reserved_micros(), 1000);
    // ...and holds the budget while open.
    assert_eq!(
        spent_now(limiter.admit(&subject, 0, 1).await.expect_err("held")),
        1000
    );
    // The call failed: it costs nothing.
    limiter.settle(a, 0, 0).await;

    let (b, _) = limiter.admit(&subject, 0, 1000).await.expect("free again");
    drop(b); // never settled: released as cost 0

    let (c, _) = limiter.admit(&subject, 0, 1000).await.expect("free again");
    limiter.settle(c, 0, 70).await;
    let (d, _) = limiter.admit(&subject, 0, 1000).await.expect("70 < 100");
    limiter.settle(d, 0, 45).await;
    assert_eq!(
        spent_now(limiter.admit(&subject, 0, 1).await.expect_err("spent")),
        115
    );
}

#[tokio::test]
async fn an_unlimited_subject_is_not_counted() {
    let limiter = Limiter::memory();
    let subject = Subject::key("k1", LimitSpec::unlimited());
    for _ in 0..1000 {
        let (admission, headers) = limiter.admit(&subject, 10, 10).await.expect("no limits");
        assert_eq!(admission.backend(), None);
        assert!(headers.to_pairs().is_empty());
    }
}
