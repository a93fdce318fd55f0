//! Redis going away and coming back: the limiter keeps admitting from memory (per-instance
//! limits) without a single error, says it is degraded, and goes back to Redis when it
//! answers again. Each test runs its own `redis-server` on a free port (SKIPPED when the
//! binary is missing).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gateway::limits::{
    Backend, Budget, BudgetPeriod, LimitSpec, Limiter, RedisOptions, RedisStatus, Refusal, Subject,
};
use tokio::time::{Instant, sleep, timeout};

/// A `redis-server` of this test's own, killed on drop.
struct OwnRedis {
    child: Child,
}

impl OwnRedis {
    /// Starts a server on `port` and waits until it answers; `None` without the binary.
    async fn start(port: u16) -> Option<Self> {
        let child = match Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        let server = Self { child };
        let client = redis::Client::open(url(port)).expect("url");
        for _ in 0..100 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<()>(&mut conn)
                    .await
                    .is_ok()
            {
                return Some(server);
            }
            sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {port} did not answer");
    }

    /// Freezes (`STOP`) or thaws (`CONT`) the server: unreachable, but its data kept.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

fn options() -> RedisOptions {
    RedisOptions {
        op_timeout: Duration::from_millis(300),
        probe_every: Duration::from_millis(100),
        ..RedisOptions::default()
    }
}

fn subject() -> Subject {
    let key = LimitSpec {
        rpm: Some(5),
        max_concurrent: Some(100),
        ..LimitSpec::default()
    };
    Subject::key("k1", key)
}

async fn wait_for_status(limiter: &Limiter, healthy: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while (limiter.redis_status() == RedisStatus::Healthy) != healthy {
        assert!(
            Instant::now() < deadline,
            "status stuck at {:?}",
            limiter.redis_status()
        );
        sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_test_falls_back_to_memory_and_recovers() {
    let port = free_port();
    let Some(server) = OwnRedis::start(port).await else {
        eprintln!("SKIPPED redis_stopped_mid_test: no redis-server binary");
        return;
    };
    let limiter = Limiter::with_redis_options(&url(port), "sbtest", options())
        .await
        .expect("limiter");
    assert_eq!(limiter.redis_status(), RedisStatus::Healthy);

    let mut through_redis = Vec::new();
    for _ in 0..3 {
        let (admission, _) = limiter.admit(&subject(), 0, 0).await.expect("admitted");
        assert_eq!(admission.backend(), Some(Backend::Redis));
        through_redis.push(admission);
    }

    server.stop();

    // Keep admitting: never an error, never a long wait; memory's own 5 per minute apply.
    let mut admitted = 0;
    for _ in 0..20 {
        let started = Instant::now();
        match limiter.admit(&subject(), 0, 0).await {
            Ok((admission, headers)) => {
                assert_eq!(admission.backend(), Some(Backend::Memory));
                assert_eq!(headers.limit_requests, Some(5));
                admitted += 1;
            }
            Err(refusal) => assert!(matches!(refusal, Refusal::Requests { .. }), "{refusal}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "admit waited on Redis"
        );
    }
    assert_eq!(admitted, 5, "per-instance limits while Redis is down");
    let RedisStatus::Degraded { last_error, .. } = limiter.redis_status() else {
        panic!("expected degraded, got {:?}", limiter.redis_status());
    };
    assert!(!last_error.is_empty());
    assert!(limiter.redis_fallbacks() >= 20);

    // Settling what Redis admitted does not wait or fail either: it waits for recovery.
    for admission in through_redis {
        timeout(Duration::from_millis(50), limiter.settle(admission, 0, 0))
            .await
            .expect("settle returned at once");
    }

    // Redis comes back (empty: no persistence); the probe notices and Redis counts again.
    let _server = OwnRedis::start(port).await.expect("restart");
    wait_for_status(&limiter, true).await;
    let (admission, headers) = limiter.admit(&subject(), 0, 0).await.expect("admitted");
    assert_eq!(admission.backend(), Some(Backend::Redis));
    assert_eq!(headers.remaining_requests, 4);
    limiter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limiter_started_while_redis_is_down_serves_from_memory_then_connects() {
    let port = free_port();
    let limiter = Limiter::with_redis_options(&url(port), "sbtest", options())
        .await
        .expect("an unreachable server is not an error");
    assert!(matches!(
        limiter.redis_status(),
        RedisStatus::Degraded { .. }
    ));
    let (admission, _) = limiter.admit(&subject(), 0, 0).await.expect("admitted");
    assert_eq!(admission.backend(), Some(Backend::Memory));
    limiter.settle(admission, 0, 0).await;

    let Some(_server) = OwnRedis::start(port).await else {
        eprintln!("SKIPPED a_limiter_started_while_redis_is_down: no redis-server binary");
        return;
    };
    wait_for_status(&limiter, true).await;
    let (admission, _) = limiter.admit(&subject(), 0, 0).await.expect("admitted");
    assert_eq!(admission.backend(), Some(Backend::Redis));
    assert!(
        Limiter::with_redis("not a url", "x").await.is_err(),
        "a malformed URL is an error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settlements_made_while_redis_is_unreachable_are_replayed_on_recovery() {
    let port = free_port();
    let Some(server) = OwnRedis::start(port).await else {
        eprintln!("SKIPPED settlements_replayed: no redis-server binary");
        return;
    };
    let limiter = Limiter::with_redis_options(&url(port), "sbtest", options())
        .await
        .expect("limiter");
    let key = LimitSpec {
        max_concurrent: Some(2),
        budget: Some(Budget {
            limit_micros: 1000,
            period: BudgetPeriod::Day,
        }),
        ..LimitSpec::default()
    };
    let k1 = Subject::key("k1", key);
    let (a, _) = limiter.admit(&k1, 0, 400).await.expect("first");
    let (b, _) = limiter.admit(&k1, 0, 400).await.expect("second");
    assert!(limiter.admit(&k1, 0, 0).await.is_err(), "both slots held");

    // Redis hangs: the next check (another key's) times out and is served from memory.
    // (Redis still runs that check when it wakes: its lease stays until the lease TTL.)
    server.signal("STOP");
    let started = Instant::now();
    let k2 = Subject::key("k2", subject().key.1);
    let (other, _) = limiter.admit(&k2, 0, 0).await.expect("from memory");
    assert_eq!(other.backend(), Some(Backend::Memory));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(matches!(
        limiter.redis_status(),
        RedisStatus::Degraded { .. }
    ));

    // The calls end meanwhile: their settlements wait, without waiting on Redis.
    let started = Instant::now();
    limiter.settle(a, 0, 100).await;
    limiter.settle(b, 0, 100).await;
    assert!(started.elapsed() < Duration::from_millis(50));

    server.signal("CONT");
    wait_for_status(&limiter, true).await;
    assert_eq!(limiter.lost_settlements(), 0);

    // The replay freed both slots and settled both reservations to 100.
    let (c, _) = limiter.admit(&k1, 0, 0).await.expect("a slot is free");
    let (d, _) = limiter.admit(&k1, 0, 800).await.expect("200 spent < 1000");
    assert_eq!(d.backend(), Some(Backend::Redis));
    let refusal = limiter
        .admit(&k1, 0, 0)
        .await
        .expect_err("slots held again");
    assert!(matches!(refusal, Refusal::Concurrency { .. }));
    limiter.settle(c, 0, 0).await;
    let refusal = limiter.admit(&k1, 0, 0).await.expect_err("budget spent");
    assert!(
        matches!(refusal, Refusal::Budget { spent: 1000, .. }),
        "{refusal}"
    );
    drop(d);
    limiter.shutdown().await;
}
