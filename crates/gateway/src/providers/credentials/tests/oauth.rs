//! OAuth2 credentials against the mock provider's token endpoint, over real sockets.

use std::time::Duration;

use futures_util::future::join_all;
use testkit::{MockProvider, Reply, RequiredBearer};
use tokio::time::advance;

use super::*;

const CLIENT_SECRET: &str = "client s3cr&t";

fn config(mock: &MockProvider, refresh_token: &str) -> OAuth2Config {
    OAuth2Config {
        token_url: format!("{}/oauth/token", mock.url()),
        client_id: "switchboard".into(),
        client_secret: Some(Secret::new(CLIENT_SECRET)),
        refresh_token: Secret::new(refresh_token),
        scope: Some("llm.read llm.write".into()),
    }
}

fn oauth_pool(entries: Vec<(String, CredentialKind)>) -> CredentialPool {
    CredentialPool::new(
        entries,
        PoolStrategy::FillFirst,
        CooldownConfig::default(),
        BreakerConfig::default(),
    )
}

fn one(mock: &MockProvider) -> CredentialPool {
    let kind = CredentialKind::OAuth2(config(mock, &mock.oauth_refresh_token()));
    oauth_pool(vec![("oauth2[0]".into(), kind)])
}

async fn token(pool: &CredentialPool) -> String {
    take(pool).await.token.expose().to_owned()
}

/// A chat call to the mock with the lease's token, reported to the pool like the
/// request loop does; returns the status.
async fn call(mock: &MockProvider, pool: &CredentialPool, lease: &Lease) -> u16 {
    let response = http()
        .post(format!("{}/chat/completions", mock.openai_base()))
        .bearer_auth(lease.token.expose())
        .json(&serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("the mock answers");
    let status = response.status().as_u16();
    let outcome = match status {
        200 => CredentialOutcome::Success,
        401 | 403 => CredentialOutcome::Unauthorized {
            status,
            message: response.text().await.unwrap_or_default(),
        },
        _ => CredentialOutcome::Failure,
    };
    pool.report(lease, outcome);
    status
}

#[tokio::test(start_paused = true)]
async fn refreshes_first_then_again_before_expiry() {
    let mock = MockProvider::start().await;
    let pool = one(&mock);
    assert_eq!(pool.snapshot()[0].token_expires_in_s, None);
    assert_eq!(token(&pool).await, "tok-1");
    let form = mock.last_oauth_form().expect("a token request");
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "refresh-0");
    assert_eq!(form["client_id"], "switchboard");
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(form["scope"], "llm.read llm.write");

    assert_eq!(token(&pool).await, "tok-1");
    assert_eq!(mock.oauth_refreshes(), 1, "a valid token is reused");
    assert_eq!(pool.snapshot()[0].token_expires_in_s, Some(3600));

    advance(Duration::from_secs(3539)).await;
    assert_eq!(token(&pool).await, "tok-1");
    advance(Duration::from_secs(2)).await;
    assert_eq!(token(&pool).await, "tok-2", "refreshed 60 s before expiry");
    assert_eq!(mock.oauth_refreshes(), 2);
    assert_eq!(mock.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_rotated_refresh_token_is_kept() {
    let mock = MockProvider::start().await;
    mock.set_oauth(100, true);
    let pool = one(&mock);
    assert_eq!(token(&pool).await, "tok-1");
    // A 100 s token is refreshed at half its lifetime, not 60 s before the end.
    advance(Duration::from_secs(49)).await;
    assert_eq!(token(&pool).await, "tok-1");
    advance(Duration::from_secs(2)).await;
    assert_eq!(
        token(&pool).await,
        "tok-2",
        "refresh-0 would be invalid_grant"
    );
    let form = mock.last_oauth_form().expect("a token request");
    assert_eq!(form["refresh_token"], "refresh-1");
    assert_eq!(mock.oauth_refresh_token(), "refresh-2");
}

#[tokio::test(start_paused = true)]
async fn a_401_refreshes_the_token() {
    let mock = MockProvider::start().await;
    mock.require_bearer(Some(RequiredBearer::Token("tok-2".into())));
    let pool = one(&mock);
    let first = take(&pool).await;
    assert_eq!(call(&mock, &pool, &first).await, 401);
    assert_eq!(pool.snapshot()[0].state, CredentialState::Active);

    let second = take(&pool).await;
    assert_eq!(second.token.expose(), "tok-2");
    assert_eq!(call(&mock, &pool, &second).await, 200);
    // A late 401 for the replaced token changes nothing.
    pool.report(
        &first,
        CredentialOutcome::Unauthorized {
            status: 401,
            message: "late".into(),
        },
    );
    assert_eq!(token(&pool).await, "tok-2");
    assert_eq!(mock.oauth_refreshes(), 2);
    assert_eq!(mock.calls(), 2);
    let status = &pool.snapshot()[0];
    assert_eq!((status.successes, status.failures), (1, 2));
}

#[tokio::test(start_paused = true)]
async fn a_401_right_after_a_refresh_disables() {
    let mock = MockProvider::start().await;
    mock.require_bearer(Some(RequiredBearer::Token("never".into())));
    let pool = one(&mock);
    for expected in ["tok-1", "tok-2"] {
        let lease = take(&pool).await;
        assert_eq!(lease.token.expose(), expected);
        assert_eq!(call(&mock, &pool, &lease).await, 401);
    }
    let status = &pool.snapshot()[0];
    assert_eq!(status.state, CredentialState::Disabled);
    let reason = status.disabled_reason.as_deref().expect("a reason");
    assert!(
        reason.starts_with("401 right after a token refresh: {"),
        "{reason}"
    );
    assert!(reason.contains("invalid_api_key"), "{reason}");
    pool.acquire(&http(), &[]).await.expect_err("disabled");

    mock.require_bearer(Some(RequiredBearer::CurrentOAuth));
    pool.enable(0);
    let lease = take(&pool).await;
    assert_eq!(lease.token.expose(), "tok-3", "a re-test refreshes first");
    assert_eq!(call(&mock, &pool, &lease).await, 200);
}

#[tokio::test(start_paused = true)]
async fn a_403_disables_at_once() {
    let mock = MockProvider::start().await;
    mock.push(Reply::status(403));
    let pool = one(&mock);
    let lease = take(&pool).await;
    assert_eq!(call(&mock, &pool, &lease).await, 403);
    assert_eq!(pool.snapshot()[0].state, CredentialState::Disabled);
    assert_eq!(mock.oauth_refreshes(), 1);
}

#[tokio::test(start_paused = true)]
async fn invalid_grant_disables_and_the_next_credential_is_used() {
    let mock = MockProvider::start().await;
    let bad = CredentialKind::OAuth2(config(&mock, "revoked"));
    let key = CredentialKind::ApiKey(Secret::new("sk-spare"));
    let pool = oauth_pool(vec![("oauth2[0]".into(), bad), ("keys[0]".into(), key)]);
    let lease = take(&pool).await;
    assert_eq!(lease.index, 1, "falls through to the next credential");
    let status = &pool.snapshot()[0];
    assert_eq!(status.state, CredentialState::Disabled);
    assert_eq!(
        status.disabled_reason.as_deref(),
        Some("token refresh rejected: 400 invalid_grant")
    );
    let error = pool.acquire(&http(), &[1]).await.expect_err("disabled");
    assert_eq!(
        reasons(&error)[0],
        "oauth2[0]: disabled (token refresh rejected: 400 invalid_grant)"
    );
    assert_eq!(
        mock.oauth_refreshes(),
        1,
        "a disabled credential is not retried"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_token_endpoint_cools_down() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = closed.local_addr().expect("an address");
    drop(closed);
    let cfg = OAuth2Config {
        token_url: format!("http://{addr}/oauth/token"),
        client_id: "switchboard".into(),
        client_secret: None,
        refresh_token: Secret::new("refresh-0"),
        scope: None,
    };
    let pool = oauth_pool(vec![("oauth2[0]".into(), CredentialKind::OAuth2(cfg))]);
    let error = pool.acquire(&http(), &[]).await.expect_err("unreachable");
    let reason = &reasons(&error)[0];
    assert!(
        reason.starts_with("oauth2[0]: token endpoint unreachable"),
        "{reason}"
    );
    let status = &pool.snapshot()[0];
    assert_eq!(status.state, CredentialState::CoolingDown);
    assert!(status.cooling_down_for_ms.is_some_and(|ms| ms <= 1000));
    assert_eq!(status.failures, 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_acquires_share_one_refresh() {
    let mock = MockProvider::start().await;
    let pool = one(&mock);
    let leases = join_all((0..16).map(|_| take(&pool))).await;
    assert!(leases.iter().all(|l| l.token.expose() == "tok-1"));
    assert_eq!(mock.oauth_refreshes(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_never_shows_tokens_or_secrets() {
    let mock = MockProvider::start().await;
    mock.set_oauth(3600, true);
    let pool = one(&mock);
    let lease = take(&pool).await;
    pool.report(&lease, CredentialOutcome::Success);
    let json = serde_json::to_value(pool.snapshot()).expect("serializable");
    assert_eq!(json[0]["kind"], "oauth2");
    assert_eq!(json[0]["state"], "active");
    assert_eq!(json[0]["token_expires_in_s"], 3600);
    assert_eq!(json[0]["successes"], 1);
    let text = format!("{json} {pool:?} {lease:?}");
    for secret in ["tok-1", "refresh-0", "refresh-1", "s3cr"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}
