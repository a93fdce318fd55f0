//! The limits engine the request path calls around every upstream call: requests and
//! tokens per minute, concurrent requests and money budgets, for a key and its user.
//!
//! The path through it:
//! 1. [`Limiter::admit`] before the call: checks every limit of the key and of its user
//!    and, only if all pass, counts one request, the estimated tokens and a concurrency
//!    slot, and reserves the estimated cost against each budget. A [`Refusal`] says which
//!    limit refused, for whom and when to retry; an admission comes with the
//!    [`RateHeaders`] for the response.
//! 2. [`Limiter::settle`] after the call: reconciles the counted tokens to the actual
//!    count, settles each reservation to the actual cost (0 for a failed call) and frees
//!    the slots. An [`Admission`] dropped unsettled frees its slots and releases its
//!    reservations as cost 0.
//!
//! **Windows.** Requests and tokens per minute are sliding windows of one-second buckets:
//! a use counts from the second it was made until that second is 60 s old (between 60
//! and 61 s), so no 60-second interval ever holds more than the limit, and N instances
//! sharing Redis together admit exactly the limit. (GCRA, the other candidate, admits a
//! full burst and then refills continuously: up to twice the limit in the first minute,
//! and a token count cannot be reconciled after the fact as precisely.)
//!
//! **Budgets** are reserve-then-settle counters per UTC calendar period (day, week from
//! Monday, month, or total) holding spent + reserved micro-units. A request is admitted
//! while that sum is below the limit, so concurrent requests overspend by at most one
//! request's reservation (plus any excess of actual over estimated cost).
//!
//! **Balances** of billed users (see `balance`) are reserved at admission, first, and
//! settled with the rest; the settled charge is written to the database by the caller
//! (the usage meter). They are counted in Redis when it is configured (one small script per
//! step, shared by every instance) and in this instance's memory otherwise or while Redis
//! is down; `seed` loads them from the database, and seeds the memory backend's budget
//! counters from stored usage at start.
//!
//! **Backends.** Memory ([`Limiter::memory`]) counts per instance; Redis
//! ([`Limiter::with_redis`]) counts across instances with one Lua script per admission and
//! per settlement. When Redis fails, requests are served by the memory backend (per-instance
//! limits) — never refused because of Redis — with one warning, a fallback counter and
//! [`Limiter::redis_status`] saying so, until a probe finds Redis answering again; the
//! settlements of Redis admissions made meanwhile are then replayed (see `recovery`).

mod admission;
mod balance;
mod memory;
mod outcome;
mod period;
mod recovery;
mod redis;
mod seed;
mod spec;
mod status;
mod window;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::runtime::Handle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use self::redis::RedisOptions;
pub use admission::{Admission, Backend};
pub use balance::BalanceTicket;
pub use outcome::{CONCURRENCY_RETRY_AFTER, RateHeaders, Refusal, format_reset};
pub use seed::BALANCE_REFRESH_EVERY;
pub use spec::{Budget, BudgetPeriod, LimitSpec, Scope, Subject, Who};
pub use status::RedisStatus;

use self::redis::RedisBackend;
use admission::Held;
use balance::BalanceBook;
use memory::MemoryBackend;
use recovery::{Deferred, timed_out};
use status::Health;

/// A limiter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// The Redis URL is malformed (an unreachable server is not an error: the limiter
    /// starts degraded and connects when it can).
    #[error("invalid Redis URL for limits: {0}")]
    RedisUrl(#[source] ::redis::RedisError),
}

/// The limits engine. Cheap to clone; clones share their counters.
#[derive(Debug, Clone)]
pub struct Limiter {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    memory: MemoryBackend,
    /// Billed users' balances: this instance's book, and its snapshots for Redis.
    balances: BalanceBook,
    redis: Option<RedisBackend>,
    health: Health,
    /// Redis settlements waiting for Redis to answer again.
    deferred: Deferred,
    /// Releases of dropped admissions and the recovery probe.
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Limiter {
    /// Per-instance limits, in memory.
    pub fn memory() -> Self {
        Self::build(None)
    }

    /// Limits shared through Redis at `url`, under keys starting with `key_prefix`, with
    /// default [`RedisOptions`].
    pub async fn with_redis(url: &str, key_prefix: &str) -> Result<Self, LimitsError> {
        Self::with_redis_options(url, key_prefix, RedisOptions::default()).await
    }

    /// [`Limiter::with_redis`] with explicit options. Checks the server once: if it does
    /// not answer, the limiter starts degraded (memory) and keeps probing.
    pub async fn with_redis_options(
        url: &str,
        key_prefix: &str,
        options: RedisOptions,
    ) -> Result<Self, LimitsError> {
        let backend = RedisBackend::new(url, key_prefix, options).map_err(LimitsError::RedisUrl)?;
        let limiter = Self::build(Some(backend));
        if let Some(redis) = &limiter.shared.redis {
            let op_timeout = redis.options.op_timeout;
            match timeout(op_timeout, redis.probe()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => limiter.shared.redis_failed(&e.to_string()),
                Err(_) => limiter.shared.redis_failed(&timed_out(op_timeout)),
            }
        }
        Ok(limiter)
    }

    fn build(redis: Option<RedisBackend>) -> Self {
        Self {
            shared: Arc::new(Shared {
                memory: MemoryBackend::new(),
                balances: BalanceBook::default(),
                redis,
                health: Health::new(),
                deferred: Deferred::default(),
                tasks: TaskTracker::new(),
                stop: CancellationToken::new(),
            }),
        }
    }

    /// Before the call: counts one request, the estimated tokens and a concurrency slot,
    /// and reserves the estimated cost against each budget — for the key and its user, all
    /// or nothing (a refused request leaves nothing counted).
    ///
    /// When the key's user is billed (see [`Limiter::set_balance`]), the estimated cost is
    /// also reserved against the user's balance, first: a balance that does not cover it
    /// refuses with [`Refusal::Balance`].
    pub async fn admit(
        &self,
        subject: &Subject,
        estimated_tokens: u64,
        estimated_cost_micros: i64,
    ) -> Result<(Admission, RateHeaders), Refusal> {
        let balance = match &subject.user {
            Some((user, _)) => self.reserve_balance(user, estimated_cost_micros).await?,
            None => None,
        };
        match self
            .admit_limits(subject, estimated_tokens, estimated_cost_micros)
            .await
        {
            Ok((held, headers)) => Ok((
                Admission {
                    held,
                    balance,
                    shared: Arc::clone(&self.shared),
                },
                headers,
            )),
            Err(refusal) => {
                if let Some(hold) = balance {
                    self.shared.settle_balance(hold, 0).await;
                }
                Err(refusal)
            }
        }
    }

    /// Reserves `cost` against a billed user's balance: in Redis when it is configured,
    /// healthy and this instance has a snapshot for it, else in this instance's book.
    async fn reserve_balance(
        &self,
        user: &str,
        cost: i64,
    ) -> Result<Option<balance::BalanceHold>, Refusal> {
        if let Some(redis) = &self.shared.redis
            && self.shared.health.is_healthy()
            && let Some(snapshot) = self.shared.balances.redis_snapshot(user)
        {
            let op_timeout = redis.options.op_timeout;
            match timeout(op_timeout, redis.balance_reserve(user, &snapshot, cost)).await {
                Ok(Ok(Ok(epoch))) => {
                    return Ok(Some(balance::BalanceHold {
                        user: user.to_owned(),
                        reserved: cost,
                        backend: Backend::Redis,
                        epoch: Some(epoch),
                    }));
                }
                Ok(Ok(Err(available))) => {
                    return Err(Refusal::Balance {
                        who: Who {
                            scope: Scope::User,
                            id: user.to_owned(),
                        },
                        available,
                        needed: cost,
                    });
                }
                Ok(Err(e)) => self.shared.redis_failed(&e.to_string()),
                Err(_) => self.shared.redis_failed(&timed_out(op_timeout)),
            }
            self.shared.health.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        self.shared.balances.reserve(user, cost)
    }

    /// The rate, concurrency and budget part of [`Limiter::admit`].
    async fn admit_limits(
        &self,
        subject: &Subject,
        estimated_tokens: u64,
        estimated_cost_micros: i64,
    ) -> Result<(Option<Held>, RateHeaders), Refusal> {
        if subject.is_unlimited() {
            return Ok((None, RateHeaders::default()));
        }
        if let Some(redis) = &self.shared.redis {
            if self.shared.health.is_healthy() {
                let op_timeout = redis.options.op_timeout;
                let call = redis.admit(subject, estimated_tokens, estimated_cost_micros);
                match timeout(op_timeout, call).await {
                    Ok(Ok(outcome)) => {
                        return outcome.map(|(held, headers)| (Some(held), headers));
                    }
                    Ok(Err(e)) => self.shared.redis_failed(&e.to_string()),
                    Err(_) => self.shared.redis_failed(&timed_out(op_timeout)),
                }
            }
            self.shared.health.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        self.shared
            .memory
            .admit(subject, estimated_tokens, estimated_cost_micros)
            .map(|(held, headers)| (Some(held), headers))
    }

    /// After the call: settles the budget reservations to `actual_cost_micros` (0 for a
    /// failed call), adds `actual_tokens − estimated` to the tokens counted, and frees the
    /// concurrency slots. Never fails and never waits on a Redis known to be down: a
    /// Redis settlement made while degraded is replayed when Redis answers again (see
    /// [`Limiter::lost_settlements`] for the ones that cannot be).
    pub async fn settle(
        &self,
        mut admission: Admission,
        actual_tokens: u64,
        actual_cost_micros: i64,
    ) {
        if let Some(hold) = admission.balance.take() {
            admission
                .shared
                .settle_balance(hold, actual_cost_micros)
                .await;
        }
        if let Some(held) = admission.held.take() {
            admission
                .shared
                .settle(held, actual_tokens, actual_cost_micros)
                .await;
        }
    }

    /// [`Limiter::settle`] at once, without a task, when everything the admission holds is
    /// in this instance's memory (no Redis round trip to wait for); otherwise the admission
    /// comes back (`Some`) for the caller to settle asynchronously.
    pub fn settle_in_memory(
        &self,
        mut admission: Admission,
        actual_tokens: u64,
        actual_cost_micros: i64,
    ) -> Option<Admission> {
        let memory_only = admission
            .balance
            .as_ref()
            .is_none_or(|b| b.backend == Backend::Memory)
            && admission
                .held
                .as_ref()
                .is_none_or(|h| h.parts.is_empty() || h.backend == Backend::Memory);
        if !memory_only {
            return Some(admission);
        }
        if let Some(hold) = admission.balance.take() {
            admission.shared.balances.settle(&hold, actual_cost_micros);
        }
        if let Some(held) = admission.held.take()
            && !held.parts.is_empty()
        {
            admission
                .shared
                .memory
                .settle(&held, actual_tokens, actual_cost_micros);
        }
        None
    }

    /// Whether `user`'s balance is billed (it has a balance installed).
    pub fn is_billed(&self, user: &str) -> bool {
        self.shared.balances.is_billed(user)
    }

    /// What `user` may spend right now (balance less reservations and charges not yet
    /// seen by the last balance read); `None` when the user is not billed.
    pub fn available_balance(&self, user: &str) -> Option<i64> {
        self.shared.balances.available(user)
    }

    /// How much of the charges to `user` is written to the database, in this instance's
    /// book and (when Redis answers) in the shared counters. Read it *before* reading the
    /// balance passed to [`Limiter::set_balance`].
    pub async fn balance_mark(&self, user: &str) -> BalanceMark {
        let memory = self.shared.balances.mark(user);
        let mut redis_mark = None;
        if let Some(redis) = &self.shared.redis
            && self.shared.health.is_healthy()
        {
            let op_timeout = redis.options.op_timeout;
            match timeout(op_timeout, redis.balance_mark(user)).await {
                Ok(Ok(mark)) => redis_mark = Some(mark),
                Ok(Err(e)) => self.shared.redis_failed(&e.to_string()),
                Err(_) => self.shared.redis_failed(&timed_out(op_timeout)),
            }
        }
        BalanceMark {
            memory,
            redis: redis_mark,
        }
    }

    /// Installs `user`'s balance (cash + credit) as read from the database, with the mark
    /// read before it; from now on the user is billed.
    pub fn set_balance(&self, user: &str, available_micros: i64, mark: &BalanceMark) {
        self.shared
            .balances
            .install(user, available_micros, mark.memory);
        if let Some((written, epoch)) = &mark.redis {
            self.shared.balances.install_redis(
                user,
                balance::RedisBalance {
                    base: available_micros,
                    mark: *written,
                    epoch: epoch.clone(),
                },
            );
        }
    }

    /// A settled charge of `amount_micros` has been written to the database.
    pub async fn balance_written(&self, ticket: &BalanceTicket, amount_micros: i64) {
        match (ticket.backend, &self.shared.redis, &ticket.epoch) {
            (Backend::Redis, Some(redis), Some(epoch)) => {
                let op_timeout = redis.options.op_timeout;
                let call = redis.balance_adjust(
                    &ticket.user,
                    redis::BalanceOp::Written,
                    epoch,
                    amount_micros,
                );
                let error = match timeout(op_timeout, call).await {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => timed_out(op_timeout),
                };
                // Not counted as written: the user sees this charge twice (less money)
                // until Redis's counters are reset. Never more money than there is.
                self.shared.redis_failed(&error);
                self.shared
                    .health
                    .lost_settlements
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(user = %ticket.user, error, "a written balance charge was not confirmed in Redis");
            }
            _ => self.shared.balances.written(&ticket.user, amount_micros),
        }
    }

    /// Whether limits are shared through Redis right now.
    pub fn redis_status(&self) -> RedisStatus {
        match self.shared.redis {
            None => RedisStatus::Disabled,
            Some(_) => self.shared.health.status(),
        }
    }

    /// Checks served by the memory backend because Redis was degraded or failed (a
    /// counter for metrics).
    pub fn redis_fallbacks(&self) -> u64 {
        self.shared.health.fallbacks.load(Ordering::Relaxed)
    }

    /// Settlements of Redis admissions whose budget and token adjustments were lost:
    /// Redis failed while (or just after) they were sent, or too many were waiting.
    /// Their concurrency slots are still freed, on recovery or by the lease TTL.
    pub fn lost_settlements(&self) -> u64 {
        self.shared.health.lost_settlements.load(Ordering::Relaxed)
    }

    /// Stops probing Redis and waits for the releases of dropped admissions to finish.
    pub async fn shutdown(&self) {
        self.shared.stop.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

/// Where the written part of a user's charges stood before a balance was read: in this
/// instance's book, and in Redis's shared counters (with their epoch) when Redis answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BalanceMark {
    memory: i64,
    redis: Option<(i64, String)>,
}

impl Shared {
    /// Settles a balance reservation to the actual cost, where it was made.
    async fn settle_balance(&self, hold: balance::BalanceHold, actual: i64) {
        match (hold.backend, &self.redis, &hold.epoch) {
            (Backend::Redis, Some(redis), Some(epoch)) => {
                let op_timeout = redis.options.op_timeout;
                let delta = actual.saturating_sub(hold.reserved);
                if delta == 0 {
                    return;
                }
                let call = redis.balance_adjust(&hold.user, redis::BalanceOp::Settle, epoch, delta);
                let error = match timeout(op_timeout, call).await {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => timed_out(op_timeout),
                };
                // The reservation stays counted in full: conservative when the actual cost
                // was lower, short by the excess when it was higher.
                self.health.lost_settlements.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(user = %hold.user, error, "a balance settlement did not reach Redis");
            }
            _ => self.balances.settle(&hold, actual),
        }
    }

    /// A balance reservation was dropped unsettled: release it (cost 0).
    fn release_balance(self: &Arc<Self>, hold: balance::BalanceHold) {
        if hold.backend == Backend::Memory {
            return self.balances.settle(&hold, 0);
        }
        match Handle::try_current() {
            Ok(handle) => {
                let me = Arc::clone(self);
                self.tasks
                    .spawn_on(async move { me.settle_balance(hold, 0).await }, &handle);
            }
            Err(_) => {
                self.health.lost_settlements.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    async fn settle(self: &Arc<Self>, held: Held, actual_tokens: u64, actual_cost_micros: i64) {
        if held.parts.is_empty() {
            return;
        }
        match held.backend {
            Backend::Memory => self.memory.settle(&held, actual_tokens, actual_cost_micros),
            Backend::Redis => {
                self.settle_in_redis(held, actual_tokens, actual_cost_micros)
                    .await;
            }
        }
    }

    /// An admission was dropped unsettled: free its slots and release its reservations
    /// (cost 0); its estimated tokens stay counted.
    fn release_unsettled(self: &Arc<Self>, held: Held) {
        let tokens = held.estimated_tokens;
        match held.backend {
            Backend::Memory => self.memory.settle(&held, tokens, 0),
            Backend::Redis => match Handle::try_current() {
                Ok(handle) => {
                    let me = Arc::clone(self);
                    self.tasks
                        .spawn_on(async move { me.settle(held, tokens, 0).await }, &handle);
                }
                Err(_) => {
                    self.health.lost_settlements.fetch_add(1, Ordering::Relaxed);
                }
            },
        }
    }
}
