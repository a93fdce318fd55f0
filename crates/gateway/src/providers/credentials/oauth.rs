//! OAuth2 credentials: one credential's access token, refreshed through its token endpoint
//! shortly before it expires and after the upstream rejects it, one refresh at a time.
//!
//! Each token gets a generation number. A 401 reported for the current generation marks
//! the token stale (the next acquire refreshes); a 401 for an older one is ignored, since
//! that token is already replaced. A token obtained *because of* a 401 is on probation
//! until a request with it succeeds: a second 401 then means the credential itself is bad.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::token_endpoint::{self, TokenError};
use crate::secret::Secret;

/// Refresh this long before the token expires — or at half its lifetime, if shorter.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A generic OAuth2 credential: the refresh-token grant of RFC 6749 §6.
#[derive(Clone, Debug)]
pub struct OAuth2Config {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// The first refresh token; a rotated one replaces it in memory.
    pub refresh_token: Secret,
    pub scope: Option<String>,
}

/// What a 401 means for an OAuth2 credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rejection {
    /// Refresh on the next acquire (or already replaced).
    Refresh,
    /// The token was fresh from a refresh forced by a 401, and was rejected again.
    Disable,
}

pub(super) struct OAuthToken {
    shared: Arc<Shared>,
    /// Held for the whole of a refresh, by the task doing it.
    gate: Arc<tokio::sync::Mutex<()>>,
}

struct Shared {
    config: OAuth2Config,
    state: Mutex<TokenState>,
}

struct TokenState {
    refresh_token: Secret,
    access: Option<Issued>,
    generation: u64,
    stale: bool,
    probation: bool,
}

struct Issued {
    token: Secret,
    refresh_at: Instant,
    expires_at: Instant,
}

impl OAuthToken {
    pub(super) fn new(config: OAuth2Config) -> Self {
        let state = TokenState {
            refresh_token: config.refresh_token.clone(),
            access: None,
            generation: 0,
            stale: false,
            probation: false,
        };
        Self {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(state),
            }),
            gate: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// A valid access token and its generation, refreshing it first when needed.
    /// Concurrent callers wait for one refresh.
    pub(super) async fn access(&self, http: &reqwest::Client) -> Result<(Secret, u64), TokenError> {
        if let Some(fresh) = self.shared.fresh(Instant::now()) {
            return Ok(fresh);
        }
        let gate = Arc::clone(&self.gate).lock_owned().await;
        if let Some(fresh) = self.shared.fresh(Instant::now()) {
            return Ok(fresh);
        }
        let shared = Arc::clone(&self.shared);
        let http = http.clone();
        // A task, so that a refresh once sent always completes and its result is kept —
        // above all a rotated refresh token, which the old one can no longer replace —
        // even if the request that started it goes away. It holds the gate until done and
        // is bounded by the refresh timeout; the handle is awaited here.
        let refresh = tokio::spawn(async move {
            let _gate = gate;
            shared.refresh(&http).await
        });
        refresh
            .await
            .map_err(|e| TokenError::Unavailable(format!("token refresh did not complete: {e}")))?
    }

    /// The upstream answered 401 to a request made with generation `generation`.
    pub(super) fn rejected(&self, generation: u64) -> Rejection {
        let mut state = self.shared.state.lock();
        if generation != state.generation {
            return Rejection::Refresh;
        }
        if state.probation {
            return Rejection::Disable;
        }
        state.stale = true;
        Rejection::Refresh
    }

    /// A request made with generation `generation` succeeded.
    pub(super) fn accepted(&self, generation: u64) {
        let mut state = self.shared.state.lock();
        if generation == state.generation {
            state.probation = false;
        }
    }

    /// After re-enabling: refresh before the next use, and count that refresh as forced.
    pub(super) fn retest(&self) {
        let mut state = self.shared.state.lock();
        state.stale = true;
        state.probation = false;
    }

    /// Time left before the current token expires, if one was issued.
    pub(super) fn expires_in(&self, now: Instant) -> Option<Duration> {
        let state = self.shared.state.lock();
        let issued = state.access.as_ref()?;
        Some(issued.expires_at.saturating_duration_since(now))
    }
}

impl Shared {
    fn fresh(&self, now: Instant) -> Option<(Secret, u64)> {
        let state = self.state.lock();
        let issued = state.access.as_ref().filter(|_| !state.stale)?;
        (now < issued.refresh_at).then(|| (issued.token.clone(), state.generation))
    }

    async fn refresh(&self, http: &reqwest::Client) -> Result<(Secret, u64), TokenError> {
        let refresh_token = self.state.lock().refresh_token.clone();
        // Lifetimes count from when the request left: never later than the server's clock.
        let sent = Instant::now();
        let grant = token_endpoint::refresh(http, &self.config, &refresh_token).await?;
        let mut state = self.state.lock();
        let margin = REFRESH_MARGIN.min(grant.lifetime / 2);
        state.generation += 1;
        state.probation = state.stale;
        state.stale = false;
        state.access = Some(Issued {
            token: grant.access_token.clone(),
            refresh_at: sent + (grant.lifetime - margin),
            expires_at: sent + grant.lifetime,
        });
        if let Some(rotated) = grant.refresh_token {
            state.refresh_token = rotated;
        }
        tracing::debug!(
            token_url = %self.config.token_url,
            generation = state.generation,
            lifetime_s = grant.lifetime.as_secs(),
            "oauth2 access token refreshed"
        );
        Ok((grant.access_token, state.generation))
    }
}
