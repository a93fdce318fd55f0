//! The limits engine on Redis, through two separate limiters sharing one server as two
//! gateway instances would: every limit holds exactly across them. Needs a Redis at
//! `SWITCHBOARD_TEST_REDIS_URL` (each test prints SKIPPED without it); each test uses its
//! own key prefix and deletes its keys.

use std::collections::BTreeSet;
use std::time::Duration;

use gateway::limits::{
    Admission, Backend, Budget, BudgetPeriod, LimitSpec, Limiter, RedisOptions, RedisStatus,
    Refusal, Subject,
};

/// A test's slice of the shared Redis: its prefix, deleted on drop (even after a panic).
struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    fn new(test: &str) -> Option<Self> {
        let Ok(url) = std::env::var("SWITCHBOARD_TEST_REDIS_URL") else {
            eprintln!("SKIPPED {test}: SWITCHBOARD_TEST_REDIS_URL is not set");
            return None;
        };
        let prefix = format!("sbtest:{test}:{}", uuid::Uuid::new_v4().simple());
        Some(Self { url, prefix })
    }

    async fn limiter(&self) -> Limiter {
        self.limiter_with(RedisOptions::default()).await
    }

    async fn limiter_with(&self, options: RedisOptions) -> Limiter {
        let limiter = Limiter::with_redis_options(&self.url, &self.prefix, options)
            .await
            .expect("limiter");
        assert_eq!(limiter.redis_status(), RedisStatus::Healthy);
        limiter
    }

    fn keys(&self) -> Vec<String> {
        let mut conn = redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection())
            .expect("connect");
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query(&mut conn)
            .expect("KEYS")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        if let Ok(mut conn) =
            redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        {
            let _: Result<i64, _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}

fn spec(f: impl FnOnce(&mut LimitSpec)) -> LimitSpec {
    let mut s = LimitSpec::default();
    f(&mut s);
    s
}

/// Admits `n` requests at once, alternating between the two limiters.
async fn admit_all(
    limiters: [&Limiter; 2],
    subject: &Subject,
    n: usize,
    tokens: u64,
    cost: i64,
) -> (Vec<(Admission, gateway::limits::RateHeaders)>, Vec<Refusal>) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let limiter = limiters[i % 2].clone();
            let subject = subject.clone();
            tokio::spawn(async move { limiter.admit(&subject, tokens, cost).await })
        })
        .collect();
    let (mut ok, mut refused) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.expect("task") {
            Ok(admitted) => ok.push(admitted),
            Err(refusal) => refused.push(refusal),
        }
    }
    (ok, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_admit_exactly_100_of_600_against_100_per_minute() {
    let Some(redis) = TestRedis::new("rpm") else {
        return;
    };
    let (a, b) = (redis.limiter().await, redis.limiter().await);
    let subject = Subject::key("k1", spec(|s| s.rpm = Some(100)));

    let (ok, refused) = admit_all([&a, &b], &subject, 600, 0, 0).await;
    assert_eq!(ok.len(), 100, "exactly the limit, across both instances");
    assert_eq!(refused.len(), 500);
    // Each admission saw a distinct count: the checks were serialized in Redis.
    let remaining: BTreeSet<u64> = ok.iter().map(|(_, h)| h.remaining_requests).collect();
    assert_eq!(remaining, (0..100).collect());
    assert!(
        ok.iter()
            .all(|(adm, _)| adm.backend() == Some(Backend::Redis))
    );
    for refusal in &refused {
        let Refusal::Requests { retry_after, .. } = refusal else {
            panic!("expected a requests refusal, got {refusal:?}");
        };
        assert!(*retry_after > Duration::from_secs(55) && *retry_after <= Duration::from_secs(61));
    }
    assert_eq!(a.redis_fallbacks() + b.redis_fallbacks(), 0);
    for (admission, _) in ok {
        a.settle(admission, 0, 0).await;
    }
    assert!(
        b.admit(&subject, 0, 0).await.is_err(),
        "settling does not free requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_reconcile_across_instances() {
    let Some(redis) = TestRedis::new("tpm") else {
        return;
    };
    let (a, b) = (redis.limiter().await, redis.limiter().await);
    let subject = Subject::key("k1", spec(|s| s.tpm = Some(1000)));

    let (first, headers) = a.admit(&subject, 600, 0).await.expect("600 fit");
    assert_eq!(
        (headers.limit_tokens, headers.remaining_tokens),
        (Some(1000), 400)
    );
    let refusal = b.admit(&subject, 500, 0).await.expect_err("1100 > 1000");
    assert!(matches!(
        refusal,
        Refusal::Tokens {
            limit: 1000,
            requested: 500,
            ..
        }
    ));

    a.settle(first, 100, 0).await;
    let (second, headers) = b.admit(&subject, 500, 0).await.expect("100 + 500 fit");
    assert_eq!(headers.remaining_tokens, 400);
    b.settle(second, 900, 0).await;
    assert!(
        a.admit(&subject, 1, 0).await.is_err(),
        "100 + 900 = the limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_holds_exactly_across_instances() {
    let Some(redis) = TestRedis::new("conc") else {
        return;
    };
    let (a, b) = (redis.limiter().await, redis.limiter().await);
    let user = spec(|s| s.max_concurrent = Some(7));
    let subject = Subject::key("k1", LimitSpec::default()).with_user("alice", user);

    let (mut held, refused) = admit_all([&a, &b], &subject, 60, 0, 0).await;
    assert_eq!(held.len(), 7);
    assert!(
        refused
            .iter()
            .all(|r| matches!(r, Refusal::Concurrency { limit: 7, .. }))
    );

    for _ in 0..2 {
        let (admission, _) = held.pop().expect("held");
        b.settle(admission, 0, 0).await;
    }
    let (more, _) = admit_all([&a, &b], &subject, 20, 0, 0).await;
    assert_eq!(more.len(), 2, "settling two freed exactly two slots");

    // Dropped admissions release their slots in the background.
    drop(held);
    drop(more);
    let mut freed = Vec::new();
    for _ in 0..100 {
        if let Ok(admitted) = a.admit(&subject, 0, 0).await {
            freed.push(admitted);
            if freed.len() == 7 {
                break;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(freed.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_an_instance_never_released_expires() {
    let Some(redis) = TestRedis::new("lease") else {
        return;
    };
    let options = RedisOptions {
        lease_ttl: Duration::from_millis(800),
        ..RedisOptions::default()
    };
    let (crashed, survivor) = (
        redis.limiter_with(options.clone()).await,
        redis.limiter().await,
    );
    let subject = Subject::key("k1", spec(|s| s.max_concurrent = Some(1)));
    let (admission, _) = crashed.admit(&subject, 0, 0).await.expect("first");
    std::mem::forget(admission); // its instance died without releasing
    assert!(survivor.admit(&subject, 0, 0).await.is_err());
    tokio::time::sleep(Duration::from_millis(900)).await;
    let _admitted = survivor
        .admit(&subject, 0, 0)
        .await
        .expect("the lease expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_reserve_and_settle_across_instances() {
    let Some(redis) = TestRedis::new("budget") else {
        return;
    };
    let (a, b) = (redis.limiter().await, redis.limiter().await);
    let limit = 1_000_000;
    let reservation = 30_000;
    let month = |limit_micros| {
        spec(|s| {
            s.budget = Some(Budget {
                limit_micros,
                period: BudgetPeriod::Month,
            });
        })
    };
    let subject = Subject::key("k1", month(limit)).with_user("alice", month(100 * limit));

    let (held, refused) = admit_all([&a, &b], &subject, 100, 0, reservation).await;
    assert_eq!(held.len(), 34, "admitted while spent + reserved < limit");
    let reserved = i64::try_from(held.len()).expect("small") * reservation;
    assert!(
        reserved < limit + reservation,
        "overspend below one reservation"
    );
    assert!(refused.iter().all(|r| matches!(r, Refusal::Budget { .. })));

    // The counter is one key per UTC month, holding spent + reserved.
    let budget_keys: Vec<String> = redis
        .keys()
        .into_iter()
        .filter(|k| k.contains(":bd:k:k1:m"))
        .collect();
    assert_eq!(budget_keys.len(), 1, "{budget_keys:?}");

    // Settle: half at the actual cost, half failed (cost 0).
    for (i, (admission, _)) in held.into_iter().enumerate() {
        let limiter = if i % 2 == 0 { &a } else { &b };
        limiter
            .settle(admission, 0, if i % 2 == 0 { 10_000 } else { 0 })
            .await;
    }
    let spent = |r: Refusal| match r {
        Refusal::Budget { spent, .. } => spent,
        other => panic!("expected a budget refusal, got {other:?}"),
    };
    // 17 × 10 000 spent. Reserve the rest and check the refusal reports it.
    let (rest, _) = a.admit(&subject, 0, limit - 170_000).await.expect("room");
    assert_eq!(
        spent(b.admit(&subject, 0, 1).await.expect_err("full")),
        limit
    );
    // Dropped unsettled: released as cost 0.
    drop(rest);
    let mut admitted = None;
    for _ in 0..100 {
        if let Ok(ok) = b.admit(&subject, 0, 5).await {
            admitted = Some(ok);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (last, _) = admitted.expect("the dropped reservation was released");
    b.settle(last, 0, limit).await; // far more than reserved: settles to the actual cost
    assert_eq!(
        spent(a.admit(&subject, 0, 1).await.expect_err("spent")),
        170_000 + limit
    );
}
