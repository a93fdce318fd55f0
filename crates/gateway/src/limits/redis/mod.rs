//! The Redis backend: one Lua script per admission and one per settlement, each checking
//! and updating every counter of a key and its user atomically with Redis `TIME`, so any
//! number of gateway instances share one exact count. Nothing is read in Rust and written
//! back: there is no window between a check and its update for another instance to race
//! into.
//!
//! Keys, under the configured prefix (`{p}`), per key (`k`) or user (`u`):
//! - `{p}:rq:k:{id}`: requests per second bucket (hash), expiring after the window;
//! - `{p}:tk:k:{id}`: tokens per second bucket (hash), likewise;
//! - `{p}:cc:k:{id}`: concurrency leases (sorted set, member = lease id, score = expiry in
//!   ms): a lease an instance never released (it crashed) expires after the lease TTL;
//! - `{p}:bd:k:{id}:{period tag}`: spent + reserved micro-units of one budget period,
//!   expiring two days after the period ends (never for a total budget);
//! - `{p}:bl:u:{id}`: a billed user's balance counters (hash: charged, written, epoch; see
//!   `balance.lua`), never expiring.
//!
//! A script touches keys it computes (the budget period), so this backend needs a single
//! Redis server (or a primary with replicas), not a Redis Cluster.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult, Script, Value};

use super::admission::{Backend, Held, HeldPart};
use super::balance::RedisBalance;
use super::outcome::{RateHeaders, Refusal};
use super::period::period_code;
use super::spec::{Scope, Subject, Who};

/// How the Redis backend behaves; [`RedisOptions::default`] suits most deployments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// How long a concurrency lease lives if its request is never settled (its instance
    /// died). Longer than the longest request you expect.
    pub lease_ttl: Duration,
    /// The longest one limits call to Redis may take before the memory backend serves it.
    pub op_timeout: Duration,
    /// While degraded, how often Redis is probed for recovery.
    pub probe_every: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            lease_ttl: Duration::from_secs(15 * 60),
            op_timeout: Duration::from_millis(500),
            probe_every: Duration::from_secs(1),
        }
    }
}

pub(super) struct RedisBackend {
    conn: ConnectionManager,
    prefix: String,
    admit: Script,
    settle: Script,
    balance: Script,
    pub options: RedisOptions,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("prefix", &self.prefix)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Prepares a connection without waiting for it: an unreachable server is not an error
    /// here (the limiter starts degraded); a malformed URL is.
    pub fn new(url: &str, prefix: &str, options: RedisOptions) -> RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.op_timeout))
            .set_response_timeout(Some(options.op_timeout))
            // Reconnect once per call; the limiter's prober paces further attempts.
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            conn,
            prefix: prefix.trim_end_matches(':').to_owned(),
            admit: Script::new(include_str!("admit.lua")),
            settle: Script::new(include_str!("settle.lua")),
            balance: Script::new(include_str!("balance.lua")),
            options,
        })
    }

    /// Runs the admission script for no subject: proves Redis answers and runs scripts.
    pub async fn probe(&self) -> RedisResult<()> {
        let mut conn = self.conn.clone();
        let mut call = self.admit.prepare_invoke();
        call.arg(0).arg("").arg(0).arg(0).arg(0);
        call.invoke_async::<Vec<Value>>(&mut conn).await.map(|_| ())
    }

    fn key(&self, kind: &str, scope: Scope, id: &str) -> String {
        format!("{}:{kind}:{}:{id}", self.prefix, scope.letter())
    }

    /// Runs the admission script. The outer error is Redis failing; the inner one a refusal.
    pub async fn admit(
        &self,
        subject: &Subject,
        estimated_tokens: u64,
        estimated_cost_micros: i64,
    ) -> RedisResult<Result<(Held, RateHeaders), Refusal>> {
        let parts: Vec<_> = subject
            .parts()
            .filter(|(_, _, spec)| !spec.is_unlimited())
            .collect();
        let lease = uuid::Uuid::new_v4().simple().to_string();
        let mut call = self.admit.prepare_invoke();
        call.arg(parts.len())
            .arg(&lease)
            .arg(u64::try_from(self.options.lease_ttl.as_millis()).unwrap_or(u64::MAX))
            .arg(estimated_tokens)
            .arg(estimated_cost_micros);
        let limit = |v: Option<u64>| v.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        for (scope, id, spec) in &parts {
            call.key(self.key("rq", *scope, id))
                .key(self.key("tk", *scope, id))
                .key(self.key("cc", *scope, id))
                .key(self.key("bd", *scope, id));
            call.arg(limit(spec.rpm))
                .arg(limit(spec.tpm))
                .arg(limit(spec.max_concurrent))
                .arg(spec.budget.map_or(0, |b| b.limit_micros))
                .arg(spec.budget.map_or("", |b| period_code(b.period)));
        }
        let mut conn = self.conn.clone();
        let reply: Vec<Value> = call.invoke_async(&mut conn).await?;
        let r = Reply(&reply);

        if r.int(0)? == 0 {
            let (scope, id, spec) = parts
                .get(usize::try_from(r.int(1)? - 1).unwrap_or(usize::MAX))
                .ok_or_else(|| protocol("refusal names no subject"))?;
            let who = Who {
                scope: *scope,
                id: (*id).to_owned(),
            };
            let wait = Duration::from_micros(u64::try_from(r.int(3)?).unwrap_or(0));
            let refusal = match r.int(2)? {
                1 => Refusal::Requests {
                    who,
                    limit: spec.rpm.unwrap_or(0),
                    retry_after: wait,
                },
                2 => Refusal::Tokens {
                    who,
                    limit: spec.tpm.unwrap_or(0),
                    requested: estimated_tokens,
                    retry_after: wait,
                },
                3 => Refusal::Concurrency {
                    who,
                    limit: spec.max_concurrent.unwrap_or(0),
                },
                4 => {
                    let budget = spec.budget.ok_or_else(|| protocol("no budget"))?;
                    Refusal::Budget {
                        who,
                        spent: r.string(4)?.parse().map_err(|_| protocol("spent"))?,
                        limit: budget.limit_micros,
                        period: budget.period,
                        resets_in: (r.int(5)? >= 0).then_some(wait),
                    }
                }
                _ => return Err(protocol("unknown refusal kind")),
            };
            return Ok(Err(refusal));
        }

        let second = u64::try_from(r.int(1)?).map_err(|_| protocol("second"))?;
        let mut held = Held::new(
            Backend::Redis,
            second,
            estimated_tokens,
            estimated_cost_micros,
        );
        let mut headers = RateHeaders::default();
        for (i, (scope, id, spec)) in parts.iter().enumerate() {
            let at = 2 + i * 7;
            let count = |j: usize| r.int(at + j).map(|v| u64::try_from(v).unwrap_or(0));
            let micros = |j: usize| count(j).map(Duration::from_micros);
            let mut mine = RateHeaders::default();
            if spec.rpm.is_some() {
                mine.limit_requests = spec.rpm;
                mine.remaining_requests = count(1)?;
                mine.reset_requests = micros(2)?;
            }
            if spec.tpm.is_some() {
                mine.limit_tokens = spec.tpm;
                mine.remaining_tokens = count(4)?;
                mine.reset_tokens = micros(5)?;
            }
            headers.merge_stricter(&mine);
            let mut part = HeldPart::new(*scope, id);
            part.tokens = spec.tpm.is_some();
            part.slot = spec.max_concurrent.is_some();
            let budget = r.string(at + 6)?;
            part.budget = (!budget.is_empty()).then_some(budget);
            held.parts.push(part);
        }
        if held.parts.iter().any(|p| p.slot) {
            held.lease = Some(lease);
        }
        Ok(Ok((held, headers)))
    }

    /// Runs the settlement script for an admission this backend counted.
    pub async fn settle(
        &self,
        held: &Held,
        actual_tokens: u64,
        actual_cost_micros: i64,
    ) -> RedisResult<()> {
        let mut call = self.settle.prepare_invoke();
        call.arg(held.parts.len())
            .arg(held.lease.as_deref().unwrap_or(""))
            .arg(held.second)
            .arg(held.token_delta(actual_tokens))
            .arg(actual_cost_micros.saturating_sub(held.reserved_micros));
        let flag = |b: bool| if b { "1" } else { "0" };
        for part in &held.parts {
            call.key(self.key("tk", part.scope, &part.id))
                .key(self.key("cc", part.scope, &part.id))
                .key(
                    part.budget
                        .clone()
                        .unwrap_or_else(|| self.key("bd", part.scope, &part.id)),
                );
            call.arg(flag(part.tokens))
                .arg(flag(part.slot))
                .arg(flag(part.budget.is_some()));
        }
        let mut conn = self.conn.clone();
        call.invoke_async::<i64>(&mut conn).await.map(|_| ())
    }
}

impl RedisBackend {
    async fn balance_call(&self, user: &str, args: &[&str]) -> RedisResult<Vec<Value>> {
        let mut call = self.balance.prepare_invoke();
        call.key(self.key("bl", Scope::User, user));
        for a in args {
            call.arg(*a);
        }
        let mut conn = self.conn.clone();
        call.invoke_async(&mut conn).await
    }

    /// The user's `written` counter and the hash's epoch (creating the hash if needed).
    pub async fn balance_mark(&self, user: &str) -> RedisResult<(i64, String)> {
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        let reply = self.balance_call(user, &["mark", &fresh]).await?;
        let r = Reply(&reply);
        let written = r.string(0)?.parse().map_err(|_| protocol("written"))?;
        Ok((written, r.string(1)?))
    }

    /// Reserves `cost` against the shared counters and this instance's snapshot. `Ok(epoch)`
    /// when reserved; `Err(available)` when the balance does not cover it.
    pub async fn balance_reserve(
        &self,
        user: &str,
        snapshot: &RedisBalance,
        cost: i64,
    ) -> RedisResult<Result<String, i64>> {
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        let (base, mark, cost_s) = (
            snapshot.base.to_string(),
            snapshot.mark.to_string(),
            cost.to_string(),
        );
        let args = ["reserve", &fresh, &base, &mark, &snapshot.epoch, &cost_s];
        let reply = self.balance_call(user, &args).await?;
        let r = Reply(&reply);
        if r.int(0)? == 1 {
            Ok(Ok(r.string(2)?))
        } else {
            let available = r.string(1)?.parse().map_err(|_| protocol("available"))?;
            Ok(Err(available))
        }
    }

    /// Adds `delta` to `charged` (`settle`) or `written` (`written`), if the hash is still
    /// the one the reservation was made in.
    pub async fn balance_adjust(
        &self,
        user: &str,
        op: BalanceOp,
        epoch: &str,
        delta: i64,
    ) -> RedisResult<()> {
        let op = match op {
            BalanceOp::Settle => "settle",
            BalanceOp::Written => "written",
        };
        let delta = delta.to_string();
        self.balance_call(user, &[op, epoch, &delta])
            .await
            .map(|_| ())
    }
}

/// What [`RedisBackend::balance_adjust`] changes.
#[derive(Debug, Clone, Copy)]
pub(super) enum BalanceOp {
    Settle,
    Written,
}

/// Reads a script's reply array by position.
struct Reply<'a>(&'a [Value]);

impl Reply<'_> {
    fn int(&self, i: usize) -> RedisResult<i64> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Ok(*v),
            _ => Err(protocol("expected an integer")),
        }
    }

    fn string(&self, i: usize) -> RedisResult<String> {
        match self.0.get(i) {
            Some(Value::BulkString(b)) => {
                String::from_utf8(b.clone()).map_err(|_| protocol("expected UTF-8"))
            }
            Some(Value::SimpleString(s)) => Ok(s.clone()),
            Some(Value::Int(v)) => Ok(v.to_string()),
            _ => Err(protocol("expected a string")),
        }
    }
}

fn protocol(what: &'static str) -> RedisError {
    RedisError::from((
        redis::ErrorKind::Parse,
        "unexpected reply from the limits script",
        what.to_owned(),
    ))
}

#[cfg(test)]
mod tests;
