//! An admitted request's hold on its limits: the concurrency slots, the counted tokens and
//! the budget reservation, released by [`Limiter::settle`](super::Limiter::settle) or, if the
//! caller never settles, when the [`Admission`] is dropped.

use std::sync::Arc;

use super::Shared;
use super::balance::BalanceHold;
use super::spec::Scope;

/// Which backend counted an admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// This instance's memory (no Redis configured, or Redis unreachable).
    Memory,
    /// Redis, shared by every instance.
    Redis,
}

/// An admitted request. Pass it to [`Limiter::settle`](super::Limiter::settle) when the call
/// ends. Dropped unsettled (a panic, a cancelled handler), it frees its concurrency slots
/// and releases its budget reservation as if the call cost nothing; its estimated tokens
/// stay counted.
#[derive(Debug)]
#[must_use = "an admission holds concurrency slots and a budget reservation until settled"]
pub struct Admission {
    pub(super) held: Option<Held>,
    /// The reservation against the user's balance, when the user is billed.
    pub(super) balance: Option<BalanceHold>,
    pub(super) shared: Arc<Shared>,
}

impl Admission {
    /// The backend that counted this request; `None` when nothing was limited.
    pub fn backend(&self) -> Option<Backend> {
        self.held
            .as_ref()
            .filter(|h| !h.parts.is_empty())
            .map(|h| h.backend)
    }

    /// The budget reservation (the estimated cost), in micro-units.
    pub fn reserved_micros(&self) -> i64 {
        self.held.as_ref().map_or(0, |h| h.reserved_micros)
    }

    /// The billed user whose balance this request is charged to, if any.
    pub fn billed_user(&self) -> Option<&str> {
        self.balance.as_ref().map(|b| b.user.as_str())
    }

    /// Where this request's balance reservation was made, for confirming its charge was
    /// written ([`Limiter::balance_written`](super::Limiter::balance_written)).
    pub fn balance_ticket(&self) -> Option<super::BalanceTicket> {
        self.balance
            .as_ref()
            .map(super::balance::BalanceHold::ticket)
    }

    /// The tokens counted against tokens-per-minute at admission.
    pub fn estimated_tokens(&self) -> u64 {
        self.held.as_ref().map_or(0, |h| h.estimated_tokens)
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(hold) = self.balance.take() {
            self.shared.release_balance(hold);
        }
        if let Some(held) = self.held.take()
            && !held.parts.is_empty()
        {
            self.shared.release_unsettled(held);
        }
    }
}

/// What an admission holds, in the backend that counted it.
#[derive(Debug)]
pub(super) struct Held {
    pub backend: Backend,
    /// The Redis lease id of the concurrency slots (one id for the key's and the user's).
    pub lease: Option<String>,
    /// The window bucket (second, on the backend's clock) the tokens were counted in.
    pub second: u64,
    pub estimated_tokens: u64,
    pub reserved_micros: i64,
    /// One per limited part of the subject (key, user).
    pub parts: Vec<HeldPart>,
}

impl Held {
    pub fn new(backend: Backend, second: u64, tokens: u64, reserved_micros: i64) -> Self {
        Self {
            backend,
            lease: None,
            second,
            estimated_tokens: tokens,
            reserved_micros,
            parts: Vec::with_capacity(2),
        }
    }

    /// Tokens to add to the counted estimate to reach `actual`.
    pub fn token_delta(&self, actual: u64) -> i64 {
        let actual = i64::try_from(actual).unwrap_or(i64::MAX);
        let estimated = i64::try_from(self.estimated_tokens).unwrap_or(i64::MAX);
        actual.saturating_sub(estimated)
    }
}

/// What one key or user holds.
#[derive(Debug)]
pub(super) struct HeldPart {
    pub scope: Scope,
    pub id: String,
    /// Tokens were counted (tokens-per-minute is limited).
    pub tokens: bool,
    /// A concurrency slot is held.
    pub slot: bool,
    /// The budget counter holding the reservation.
    pub budget: Option<String>,
}

impl HeldPart {
    pub fn new(scope: Scope, id: &str) -> Self {
        Self {
            scope,
            id: id.to_owned(),
            tokens: false,
            slot: false,
            budget: None,
        }
    }
}
