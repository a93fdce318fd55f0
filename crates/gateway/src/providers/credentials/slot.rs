//! One credential of a pool and what the upstream has said about it: cooling down until
//! an instant, disabled with a reason, its circuit breaker and its counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::time::Instant;

use super::CooldownConfig;
use super::oauth::OAuthToken;
use crate::routing::health::{Breaker, BreakerConfig, BreakerSnapshot, backoff};
use crate::secret::Secret;

/// Longest cooldown, whatever the upstream's `Retry-After` says: keeps `Instant`
/// arithmetic far from overflow and a confused upstream from parking a key for ever.
const MAX_COOLDOWN: Duration = Duration::from_secs(24 * 60 * 60);

/// Longest reason kept for a disabled credential (in characters).
const MAX_REASON: usize = 200;

/// The secret half of a credential.
pub(super) enum Material {
    ApiKey(Secret),
    OAuth2(OAuthToken),
}

/// The kind of a credential, as shown in its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CredentialType {
    #[serde(rename = "api_key")]
    ApiKey,
    #[serde(rename = "oauth2")]
    OAuth2,
}

/// Where a credential stands. A breaker that is open is shown in
/// [`CredentialStatus::breaker`], not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    Active,
    CoolingDown,
    Disabled,
}

/// A point-in-time view of one credential, safe to show: it never holds the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialStatus {
    pub label: String,
    pub kind: CredentialType,
    pub state: CredentialState,
    /// Time left before a cooling-down credential is used again.
    pub cooling_down_for_ms: Option<u64>,
    pub disabled_reason: Option<String>,
    pub breaker: BreakerSnapshot,
    /// OAuth2 only: seconds until the current access token expires (0 once expired).
    pub token_expires_in_s: Option<u64>,
    /// Requests reported as successful.
    pub successes: u64,
    /// Requests reported as rate limited, unauthorized or failed, and failed token
    /// refreshes.
    pub failures: u64,
}

/// Why a credential cannot be used right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Unusable {
    Disabled(String),
    /// Cooling down for this long, and why.
    CoolingDown(Duration, String),
    /// The breaker is open (for this long, when known) or its one probe is out.
    BreakerOpen(Option<Duration>),
}

impl Unusable {
    /// How long until this credential may be usable again; `None` when that is unknown
    /// or depends on someone re-enabling it.
    pub(super) fn wait(&self) -> Option<Duration> {
        match self {
            Self::Disabled(_) => None,
            Self::CoolingDown(left, _) => Some(*left),
            Self::BreakerOpen(left) => *left,
        }
    }
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Disabled(reason) => write!(f, "disabled ({reason})"),
            Self::CoolingDown(left, why) => {
                write!(f, "cooling down for {} ms after {why}", ceil_ms(*left))
            }
            Self::BreakerOpen(Some(left)) => {
                write!(f, "circuit open for {} ms", ceil_ms(*left))
            }
            Self::BreakerOpen(None) => f.write_str("circuit half-open, probe in flight"),
        }
    }
}

#[derive(Debug, Default)]
struct Health {
    cooling_until: Option<Instant>,
    cooling_reason: String,
    /// Cooldowns in a row without a success in between: the backoff exponent.
    strikes: u32,
    disabled: Option<String>,
}

pub(super) struct Slot {
    pub(super) label: String,
    pub(super) secret: Material,
    pub(super) breaker: Breaker,
    health: Mutex<Health>,
    successes: AtomicU64,
    failures: AtomicU64,
}

impl Slot {
    pub(super) fn new(label: String, secret: Material, breaker: BreakerConfig) -> Self {
        Self {
            label,
            secret,
            breaker: Breaker::new(breaker),
            health: Mutex::new(Health::default()),
            successes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// Disabled or cooling down; the breaker is consulted separately, because asking it
    /// to admit a request takes its half-open probe slot.
    pub(super) fn blocked(&self, now: Instant) -> Option<Unusable> {
        let health = self.health.lock();
        if let Some(reason) = &health.disabled {
            return Some(Unusable::Disabled(reason.clone()));
        }
        let until = health.cooling_until.filter(|until| *until > now)?;
        Some(Unusable::CoolingDown(
            until - now,
            health.cooling_reason.clone(),
        ))
    }

    /// Why this credential cannot be used now, breaker included; `None` when it can.
    pub(super) fn unusable(&self, now: Instant) -> Option<Unusable> {
        let blocked = self.blocked(now);
        if self.breaker.is_available() {
            return blocked;
        }
        let open_for = self
            .breaker
            .snapshot()
            .opened_for_remaining_ms
            .map(Duration::from_millis);
        // Usable again once both the cooldown and the breaker allow it.
        Some(match blocked {
            Some(Unusable::CoolingDown(left, why)) if open_for.is_some_and(|o| o <= left) => {
                Unusable::CoolingDown(left, why)
            }
            Some(Unusable::Disabled(reason)) => Unusable::Disabled(reason),
            _ => Unusable::BreakerOpen(open_for),
        })
    }

    pub(super) fn succeeded(&self) {
        self.successes.fetch_add(1, Ordering::Relaxed);
        self.health.lock().strikes = 0;
    }

    pub(super) fn failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Cools down for `wait` when given (capped at [`MAX_COOLDOWN`]), else for a backoff
    /// with full jitter that grows with each cooldown in a row. A cooldown never shortens
    /// one already running.
    pub(super) fn cool_down(&self, wait: Option<Duration>, why: &str, cfg: &CooldownConfig) {
        let now = Instant::now();
        let mut health = self.health.lock();
        let wait = match wait {
            Some(wait) => wait,
            None => backoff(health.strikes, cfg.base, cfg.cap),
        }
        .min(MAX_COOLDOWN);
        health.strikes = health.strikes.saturating_add(1);
        let until = now + wait;
        if health.cooling_until.is_none_or(|current| current < until) {
            health.cooling_until = Some(until);
            health.cooling_reason = why.to_owned();
        }
        tracing::debug!(credential = %self.label, ?wait, reason = why, "credential cooling down");
    }

    pub(super) fn disable(&self, reason: &str) {
        let reason = truncate(reason, MAX_REASON);
        tracing::warn!(credential = %self.label, %reason, "credential disabled");
        self.health.lock().disabled = Some(reason);
    }

    /// Clears a disablement and the backoff exponent; a running cooldown stays.
    pub(super) fn enable(&self) {
        let mut health = self.health.lock();
        health.disabled = None;
        health.strikes = 0;
    }

    pub(super) fn status(&self, now: Instant) -> CredentialStatus {
        let (state, cooling_down_for_ms, disabled_reason) = match self.blocked(now) {
            None => (CredentialState::Active, None, None),
            Some(Unusable::Disabled(reason)) => (CredentialState::Disabled, None, Some(reason)),
            Some(Unusable::CoolingDown(left, _)) => {
                (CredentialState::CoolingDown, Some(ceil_ms(left)), None)
            }
            Some(Unusable::BreakerOpen(_)) => (CredentialState::Active, None, None),
        };
        let (kind, token_expires_in_s) = match &self.secret {
            Material::ApiKey(_) => (CredentialType::ApiKey, None),
            Material::OAuth2(token) => (
                CredentialType::OAuth2,
                token.expires_in(now).map(|d| d.as_secs()),
            ),
        };
        CredentialStatus {
            label: self.label.clone(),
            kind,
            state,
            cooling_down_for_ms,
            disabled_reason,
            breaker: self.breaker.snapshot(),
            token_expires_in_s,
            successes: self.successes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

/// Whole milliseconds, rounded up so that "0 ms left" means usable.
pub(super) fn ceil_ms(d: Duration) -> u64 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// At most `max` characters of `s`, with `…` when cut.
pub(super) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((end, _)) => format!("{}…", &s[..end]),
    }
}
