//! Credential pool behaviour under paused time: selection order, cooldowns, disablement and
//! breakers on API keys (`selection`), and OAuth2 refresh against the mock's token
//! endpoint over real sockets (`oauth`).

mod oauth;
mod selection;

use super::*;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

fn api_keys(n: usize) -> Vec<(String, CredentialKind)> {
    (0..n)
        .map(|i| {
            let key = CredentialKind::ApiKey(Secret::new(format!("sk-secret-{i}")));
            (format!("keys[{i}]"), key)
        })
        .collect()
}

fn key_pool(n: usize, strategy: PoolStrategy) -> CredentialPool {
    CredentialPool::new(
        api_keys(n),
        strategy,
        CooldownConfig::default(),
        BreakerConfig::default(),
    )
}

async fn take(pool: &CredentialPool) -> Lease {
    pool.acquire(&http(), &[])
        .await
        .expect("a usable credential")
}

/// The indexes handed out by `n` acquires, each reported as a success.
async fn order(pool: &CredentialPool, n: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let lease = take(pool).await;
        out.push(lease.index);
        pool.report(&lease, CredentialOutcome::Success);
    }
    out
}

fn next_available(error: &PoolError) -> Option<Duration> {
    match error {
        PoolError::Exhausted {
            next_available_in, ..
        } => *next_available_in,
        PoolError::Empty => panic!("expected Exhausted, got Empty"),
    }
}

fn reasons(error: &PoolError) -> Vec<String> {
    match error {
        PoolError::Exhausted { reasons, .. } => reasons.clone(),
        PoolError::Empty => panic!("expected Exhausted, got Empty"),
    }
}
