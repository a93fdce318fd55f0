//! Credential pools: several credentials per provider, each with its own health.
//!
//! A request [`CredentialPool::acquire`]s a [`Lease`], sends it, and
//! [`CredentialPool::report`]s exactly one [`CredentialOutcome`] for it:
//!
//! - **choice**: round-robin or fill-first over the usable credentials — neither cooling
//!   down, disabled, nor behind an open circuit breaker (one
//!   [`Breaker`](crate::routing::health::Breaker) per credential);
//! - **429**: the credential cools down for the upstream's `Retry-After`, else for an
//!   exponential backoff with full jitter (`base × 2^n`, capped) that grows with each 429 in
//!   a row and resets on success;
//! - **401/403**: an API key is disabled with the reason until [`CredentialPool::enable`];
//!   an OAuth2 token is refreshed on the next acquire, and the credential disabled only if
//!   the refreshed token is rejected too (403 disables it at once);
//! - **5xx, transport errors**: count toward the credential's breaker;
//! - **OAuth2**: tokens are refreshed within 60 s of expiry (`oauth`, `token_endpoint`);
//!   a refresh the token endpoint refuses disables the credential, one that fails to
//!   happen cools it down.
//!
//! [`CredentialPool::snapshot`] shows each credential's state, never its secret.
//! All time comes from `tokio::time`, so tests run on paused time.

mod oauth;
mod slot;
mod token_endpoint;

#[cfg(test)]
mod tests;

use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use self::oauth::{OAuthToken, Rejection};
use self::slot::{Material, Slot, Unusable, ceil_ms, truncate};
use self::token_endpoint::TokenError;
use crate::routing::health::{Admission, BreakerConfig};
use crate::secret::Secret;

pub use self::oauth::OAuth2Config;
pub use self::slot::{CredentialState, CredentialStatus, CredentialType};

/// One credential as configured.
#[derive(Clone, Debug)]
pub enum CredentialKind {
    ApiKey(Secret),
    OAuth2(OAuth2Config),
}

/// Which usable credential a pool hands out next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolStrategy {
    /// Each in turn.
    #[default]
    RoundRobin,
    /// Always the first usable one: later credentials are spares.
    FillFirst,
}

impl std::str::FromStr for PoolStrategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "round_robin" => Ok(Self::RoundRobin),
            "fill_first" => Ok(Self::FillFirst),
            other => Err(format!(
                "unknown credential strategy '{other}' (expected round_robin or fill_first)"
            )),
        }
    }
}

/// Backoff for a credential rate limited without `Retry-After`. Durations are human.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CooldownConfig {
    /// The first cooldown's ceiling; doubled for each further 429 in a row.
    #[serde(with = "humantime_serde")]
    pub base: Duration,
    /// The largest ceiling.
    #[serde(with = "humantime_serde")]
    pub cap: Duration,
}

impl Default for CooldownConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(5 * 60),
        }
    }
}

/// A credential handed out for one request. Report what became of it, exactly once, with
/// [`CredentialPool::report`] (`Neutral` when nothing is known).
#[derive(Debug)]
pub struct Lease {
    pub index: usize,
    pub token: Secret,
    admission: Admission,
    /// The OAuth2 token generation (0 for API keys).
    generation: u64,
}

/// What the upstream said to a request made with a [`Lease`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialOutcome {
    Success,
    /// 429: cool down for `retry_after` when given, else backoff with full jitter, capped.
    RateLimited {
        retry_after: Option<Duration>,
    },
    /// 401/403, with the upstream's message (kept truncated as the disabled reason).
    Unauthorized {
        status: u16,
        message: String,
    },
    /// 5xx or a transport error: counts toward the credential's breaker.
    Failure,
    /// Says nothing about the credential (another 4xx, the client went away).
    Neutral,
}

/// Why no credential could be handed out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("the provider has no credentials")]
    Empty,
    #[error("{}", exhausted_message(.next_available_in, .reasons))]
    Exhausted {
        /// The soonest a credential comes back, when any will without being re-enabled.
        next_available_in: Option<Duration>,
        /// One line per credential: `"keys[0]: cooling down for 6900 ms after 429"`.
        reasons: Vec<String>,
    },
}

fn exhausted_message(next: &Option<Duration>, reasons: &[String]) -> String {
    let mut message = format!("no usable credential ({})", reasons.join("; "));
    if let Some(next) = next {
        message.push_str(&format!("; next available in {} ms", ceil_ms(*next)));
    }
    message
}

/// A provider's credentials and their health; see the module docs.
pub struct CredentialPool {
    slots: Vec<Slot>,
    strategy: PoolStrategy,
    cooldown: CooldownConfig,
    /// Round-robin: where the next scan starts.
    cursor: Mutex<usize>,
}

impl CredentialPool {
    /// `entries` are labelled for logs and status (`keys[0]`, `oauth2[0]`) — never by
    /// the secret.
    pub fn new(
        entries: Vec<(String, CredentialKind)>,
        strategy: PoolStrategy,
        cooldown: CooldownConfig,
        breaker: BreakerConfig,
    ) -> Self {
        let slots = entries
            .into_iter()
            .map(|(label, kind)| {
                let material = match kind {
                    CredentialKind::ApiKey(key) => Material::ApiKey(key),
                    CredentialKind::OAuth2(cfg) => Material::OAuth2(OAuthToken::new(cfg)),
                };
                Slot::new(label, material, breaker.clone())
            })
            .collect();
        Self {
            slots,
            strategy,
            cooldown,
            cursor: Mutex::new(0),
        }
    }

    /// API keys labelled `keys[i]`, round-robin, with default cooldowns and breakers.
    pub fn from_keys(keys: Vec<Secret>) -> Self {
        let entries = keys
            .into_iter()
            .enumerate()
            .map(|(i, k)| (format!("keys[{i}]"), CredentialKind::ApiKey(k)))
            .collect();
        Self::new(
            entries,
            PoolStrategy::RoundRobin,
            CooldownConfig::default(),
            BreakerConfig::default(),
        )
    }

    /// Whether credential `index` is an OAuth2 one (a 401 may just mean its token expired).
    pub fn is_oauth2(&self, index: usize) -> bool {
        self.slots
            .get(index)
            .is_some_and(|s| matches!(s.secret, Material::OAuth2(_)))
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn strategy(&self) -> PoolStrategy {
        self.strategy
    }

    /// The label of credential `index`.
    pub fn label(&self, index: usize) -> Option<&str> {
        self.slots.get(index).map(|slot| slot.label.as_str())
    }

    /// A usable credential other than those in `exclude` (already tried by this
    /// request). An OAuth2 credential's token is refreshed first when it expires within
    /// 60 s or was rejected; concurrent acquirers wait for that one refresh. A refresh
    /// that fails disables or cools down its credential, and the next one is tried.
    pub async fn acquire(
        &self,
        http: &reqwest::Client,
        exclude: &[usize],
    ) -> Result<Lease, PoolError> {
        if self.slots.is_empty() {
            return Err(PoolError::Empty);
        }
        let mut skip = exclude.to_vec();
        let mut refresh_failures: Vec<(usize, String)> = Vec::new();
        loop {
            let Some((index, slot, admission)) = self.pick(&skip) else {
                return Err(self.exhausted(exclude, &refresh_failures));
            };
            let (token, generation) = match &slot.secret {
                Material::ApiKey(key) => (key.clone(), 0),
                Material::OAuth2(oauth) => match oauth.access(http).await {
                    Ok(fresh) => fresh,
                    Err(e) => {
                        slot.breaker.release(admission);
                        slot.failed();
                        match &e {
                            TokenError::Rejected(reason) => slot.disable(reason),
                            TokenError::Unavailable(reason) => {
                                slot.cool_down(None, reason, &self.cooldown);
                            }
                        }
                        refresh_failures.push((index, e.to_string()));
                        skip.push(index);
                        continue;
                    }
                },
            };
            return Ok(Lease {
                index,
                token,
                admission,
                generation,
            });
        }
    }

    /// Takes the next usable credential and its breaker admission.
    fn pick(&self, skip: &[usize]) -> Option<(usize, &Slot, Admission)> {
        let n = self.slots.len();
        let now = Instant::now();
        let mut cursor = self.cursor.lock();
        let start = match self.strategy {
            PoolStrategy::RoundRobin => *cursor % n,
            PoolStrategy::FillFirst => 0,
        };
        let order = (start..n).chain(0..start);
        for (index, slot) in order.filter_map(|i| Some((i, self.slots.get(i)?))) {
            if skip.contains(&index) || slot.blocked(now).is_some() {
                continue;
            }
            if let Some(admission) = slot.breaker.try_acquire() {
                *cursor = index + 1;
                return Some((index, slot, admission));
            }
        }
        None
    }

    fn exhausted(&self, exclude: &[usize], refresh_failures: &[(usize, String)]) -> PoolError {
        let now = Instant::now();
        let mut next: Option<Duration> = None;
        let mut reasons = Vec::with_capacity(self.slots.len());
        for (index, slot) in self.slots.iter().enumerate() {
            let label = &slot.label;
            if exclude.contains(&index) {
                reasons.push(format!("{label}: already tried"));
                continue;
            }
            let unusable = slot.unusable(now);
            if let Some(wait) = unusable.as_ref().and_then(Unusable::wait) {
                next = Some(next.map_or(wait, |n| n.min(wait)));
            }
            let failure = refresh_failures.iter().find(|(i, _)| *i == index);
            match (failure, unusable) {
                (Some((_, error)), _) => reasons.push(format!("{label}: {error}")),
                (None, Some(why)) => reasons.push(format!("{label}: {why}")),
                (None, None) => reasons.push(format!("{label}: taken by another request")),
            }
        }
        PoolError::Exhausted {
            next_available_in: next,
            reasons,
        }
    }

    /// Records what the upstream said to a request made with `lease`.
    pub fn report(&self, lease: &Lease, outcome: CredentialOutcome) {
        let Some(slot) = self.slots.get(lease.index) else {
            return;
        };
        match outcome {
            CredentialOutcome::Success => {
                slot.breaker.record_success(lease.admission);
                slot.succeeded();
                if let Material::OAuth2(oauth) = &slot.secret {
                    oauth.accepted(lease.generation);
                }
            }
            CredentialOutcome::RateLimited { retry_after } => {
                // The cooldown is the 429's whole consequence: the breaker is for faults.
                slot.breaker.release(lease.admission);
                slot.failed();
                slot.cool_down(retry_after, "429", &self.cooldown);
            }
            CredentialOutcome::Unauthorized { status, message } => {
                slot.breaker.release(lease.admission);
                slot.failed();
                self.unauthorized(slot, lease.generation, status, &message);
            }
            CredentialOutcome::Failure => {
                slot.breaker.record_failure(lease.admission);
                slot.failed();
            }
            CredentialOutcome::Neutral => slot.breaker.release(lease.admission),
        }
    }

    fn unauthorized(&self, slot: &Slot, generation: u64, status: u16, message: &str) {
        let message = truncate(message.trim(), 160);
        match &slot.secret {
            Material::OAuth2(oauth) if status == 401 => match oauth.rejected(generation) {
                Rejection::Refresh => {
                    tracing::info!(credential = %slot.label, "oauth2 token rejected; refreshing");
                }
                Rejection::Disable => {
                    slot.disable(&format!("401 right after a token refresh: {message}"));
                }
            },
            _ => slot.disable(&format!("{status}: {message}")),
        }
    }

    /// Re-enables a disabled credential (a re-test or an edit); an OAuth2 token is
    /// refreshed before its next use. A running cooldown is kept.
    pub fn enable(&self, index: usize) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        slot.enable();
        if let Material::OAuth2(oauth) = &slot.secret {
            oauth.retest();
        }
    }

    /// Each credential's state, in configuration order.
    pub fn snapshot(&self) -> Vec<CredentialStatus> {
        let now = Instant::now();
        self.slots.iter().map(|slot| slot.status(now)).collect()
    }
}

impl std::fmt::Debug for CredentialPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<&str> = self.slots.iter().map(|s| s.label.as_str()).collect();
        f.debug_struct("CredentialPool")
            .field("credentials", &labels)
            .field("strategy", &self.strategy)
            .finish_non_exhaustive()
    }
}
