//! Usage records: one per request, written in batches, with hourly rollups maintained in
//! the same transaction.
//!
//! The gateway's batching writer (behind its `UsageSink` trait) calls
//! [`Store::insert_usage_batch`]. Each batch is one transaction holding multi-row `INSERT`s of the raw
//! records and one multi-row upsert into `usage_hourly`
//! (`ON CONFLICT … DO UPDATE SET x = usage_hourly.x + excluded.x`). The batch is summed per
//! rollup row in Rust first, so each row appears once per statement (PostgreSQL refuses to
//! update a row twice in one upsert) and rows are touched in a fixed order (no deadlocks
//! between instances flushing at once).
//!
//! Rollup rows are keyed by hour, key, user, requested model and provider; a record
//! without key or user is filed under the nil UUID, one that reached no provider under
//! provider `""`. Status codes >= 400 count as errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::Store;
use crate::analytics::UsageQuery;
use crate::error::{Result, StoreError};
use crate::types::{Micros, Millis, Page, to_i64, to_u64};

/// Rows per multi-row `INSERT`: 21 binds each stays under SQLite's 32,766-variable limit.
const INSERT_CHUNK: usize = 1000;
const HOUR_MS: i64 = 3_600_000;

/// Whose spending [`Store::spend_since`] sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpendBy {
    Key,
    User,
}

/// What one request used and cost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub created_at: Millis,
    pub request_id: String,
    pub key_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// The name the client asked for (a virtual model, combo, alias or `provider/model`).
    pub requested_model: String,
    /// The provider of the last attempt; `None` when the request reached none.
    pub provider: Option<String>,
    /// The model sent upstream on the last attempt.
    pub upstream_model: Option<String>,
    /// The client's dialect.
    pub dialect_in: String,
    /// The wire format spoken upstream on the last attempt.
    pub dialect_out: Option<String>,
    pub input_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_micros: Micros,
    pub latency_ms: u64,
    /// Time to first byte of the response body; `None` when none was sent.
    pub ttft_ms: Option<u64>,
    /// HTTP status returned to the client.
    pub status: u16,
    pub attempts: u32,
    pub cache_hit: bool,
}

impl UsageRecord {
    fn is_error(&self) -> bool {
        self.status >= 400
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct RollupKey<'a> {
    hour: i64,
    key_id: Uuid,
    user_id: Uuid,
    model: &'a str,
    provider: &'a str,
}

#[derive(Default)]
struct RollupSums {
    requests: i64,
    errors: i64,
    cache_hits: i64,
    input_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    output_tokens: i64,
    reasoning_tokens: i64,
    cost_micros: i64,
    latency_ms_sum: i64,
}

impl RollupSums {
    fn add(&mut self, r: &UsageRecord) {
        let add = |sum: &mut i64, v: u64| *sum = sum.saturating_add(to_i64(v));
        add(&mut self.requests, 1);
        add(&mut self.errors, u64::from(r.is_error()));
        add(&mut self.cache_hits, u64::from(r.cache_hit));
        add(&mut self.input_tokens, r.input_tokens);
        add(&mut self.cache_read_tokens, r.cache_read_tokens);
        add(&mut self.cache_write_tokens, r.cache_write_tokens);
        add(&mut self.output_tokens, r.output_tokens);
        add(&mut self.reasoning_tokens, r.reasoning_tokens);
        add(&mut self.latency_ms_sum, r.latency_ms);
        self.cost_micros = self.cost_micros.saturating_add(r.cost_micros);
    }
}

fn rollups(records: &[UsageRecord]) -> Vec<(RollupKey<'_>, RollupSums)> {
    let mut map: BTreeMap<RollupKey<'_>, RollupSums> = BTreeMap::new();
    for r in records {
        let key = RollupKey {
            hour: r.created_at - r.created_at.rem_euclid(HOUR_MS),
            key_id: r.key_id.unwrap_or(Uuid::nil()),
            user_id: r.user_id.unwrap_or(Uuid::nil()),
            model: &r.requested_model,
            provider: r.provider.as_deref().unwrap_or(""),
        };
        map.entry(key).or_default().add(r);
    }
    map.into_iter().collect()
}

macro_rules! usage_columns {
    () => {
        "created_at, request_id, key_id, user_id, requested_model, provider, upstream_model, \
         dialect_in, dialect_out, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, \
         reasoning_tokens, cost_micros, latency_ms, ttft_ms, status, attempts, cache_hit"
    };
}

const ROLLUP_UPSERT: &str = " ON CONFLICT (hour, key_id, user_id, model, provider) DO UPDATE SET \
    requests = usage_hourly.requests + excluded.requests, \
    errors = usage_hourly.errors + excluded.errors, \
    cache_hits = usage_hourly.cache_hits + excluded.cache_hits, \
    input_tokens = usage_hourly.input_tokens + excluded.input_tokens, \
    cache_read_tokens = usage_hourly.cache_read_tokens + excluded.cache_read_tokens, \
    cache_write_tokens = usage_hourly.cache_write_tokens + excluded.cache_write_tokens, \
    output_tokens = usage_hourly.output_tokens + excluded.output_tokens, \
    reasoning_tokens = usage_hourly.reasoning_tokens + excluded.reasoning_tokens, \
    cost_micros = usage_hourly.cost_micros + excluded.cost_micros, \
    latency_ms_sum = usage_hourly.latency_ms_sum + excluded.latency_ms_sum";

#[derive(sqlx::FromRow)]
struct UsageRow {
    created_at: i64,
    request_id: String,
    key_id: Option<Uuid>,
    user_id: Option<Uuid>,
    requested_model: String,
    provider: Option<String>,
    upstream_model: Option<String>,
    dialect_in: String,
    dialect_out: Option<String>,
    input_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    output_tokens: i64,
    reasoning_tokens: i64,
    cost_micros: i64,
    latency_ms: i64,
    ttft_ms: Option<i64>,
    status: i64,
    attempts: i64,
    cache_hit: bool,
}

impl TryFrom<UsageRow> for UsageRecord {
    type Error = StoreError;
    fn try_from(r: UsageRow) -> Result<Self> {
        Ok(Self {
            created_at: r.created_at,
            request_id: r.request_id,
            key_id: r.key_id,
            user_id: r.user_id,
            requested_model: r.requested_model,
            provider: r.provider,
            upstream_model: r.upstream_model,
            dialect_in: r.dialect_in,
            dialect_out: r.dialect_out,
            input_tokens: to_u64(r.input_tokens),
            cache_read_tokens: to_u64(r.cache_read_tokens),
            cache_write_tokens: to_u64(r.cache_write_tokens),
            output_tokens: to_u64(r.output_tokens),
            reasoning_tokens: to_u64(r.reasoning_tokens),
            cost_micros: r.cost_micros,
            latency_ms: to_u64(r.latency_ms),
            ttft_ms: r.ttft_ms.map(to_u64),
            status: u16::try_from(r.status).map_err(|e| StoreError::corrupt("usage status", e))?,
            attempts: u32::try_from(r.attempts)
                .map_err(|e| StoreError::corrupt("usage attempts", e))?,
            cache_hit: r.cache_hit,
        })
    }
}

impl Store {
    /// Writes a batch of usage records and folds them into the hourly rollups, all in one
    /// transaction: either the whole batch lands (raw and rolled up) or none of it.
    pub async fn insert_usage_batch(&self, records: &[UsageRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let rollups = rollups(records);
        on_pool!(self, pool, Db => {
            let mut tx = pool.begin().await?;
            for chunk in records.chunks(INSERT_CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(concat!("INSERT INTO usage_records (", usage_columns!(), ") "));
                qb.push_values(chunk, |mut row, r| {
                    row.push_bind(r.created_at)
                        .push_bind(r.request_id.as_str())
                        .push_bind(r.key_id)
                        .push_bind(r.user_id)
                        .push_bind(r.requested_model.as_str())
                        .push_bind(r.provider.as_deref())
                        .push_bind(r.upstream_model.as_deref())
                        .push_bind(r.dialect_in.as_str())
                        .push_bind(r.dialect_out.as_deref())
                        .push_bind(to_i64(r.input_tokens))
                        .push_bind(to_i64(r.cache_read_tokens))
                        .push_bind(to_i64(r.cache_write_tokens))
                        .push_bind(to_i64(r.output_tokens))
                        .push_bind(to_i64(r.reasoning_tokens))
                        .push_bind(r.cost_micros)
                        .push_bind(to_i64(r.latency_ms))
                        .push_bind(r.ttft_ms.map(to_i64))
                        .push_bind(i64::from(r.status))
                        .push_bind(i64::from(r.attempts))
                        .push_bind(r.cache_hit);
                });
                // Batch sizes vary, so each size is a different statement: not worth caching
                // (a cached one per size and connection would pile up in memory).
                qb.build().persistent(false).execute(&mut *tx).await?;
            }
            for chunk in rollups.chunks(INSERT_CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO usage_hourly (hour, key_id, user_id, model, provider, requests, errors, \
                     cache_hits, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, \
                     reasoning_tokens, cost_micros, latency_ms_sum) ",
                );
                qb.push_values(chunk, |mut row, (k, s)| {
                    row.push_bind(k.hour)
                        .push_bind(k.key_id)
                        .push_bind(k.user_id)
                        .push_bind(k.model)
                        .push_bind(k.provider)
                        .push_bind(s.requests)
                        .push_bind(s.errors)
                        .push_bind(s.cache_hits)
                        .push_bind(s.input_tokens)
                        .push_bind(s.cache_read_tokens)
                        .push_bind(s.cache_write_tokens)
                        .push_bind(s.output_tokens)
                        .push_bind(s.reasoning_tokens)
                        .push_bind(s.cost_micros)
                        .push_bind(s.latency_ms_sum);
                });
                qb.push(ROLLUP_UPSERT);
                // Batch sizes vary, so each size is a different statement: not worth caching
                // (a cached one per size and connection would pile up in memory).
                qb.build().persistent(false).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Raw usage records in `[query.from, query.to)` matching the query's filters, newest
    /// first (`model` matches the requested model). For request-level views; aggregate
    /// questions go to [`crate::analytics`].
    pub async fn list_usage(&self, query: &UsageQuery, page: Page) -> Result<Vec<UsageRecord>> {
        let rows: Vec<UsageRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", usage_columns!(), " FROM usage_records \
             WHERE created_at >= $1 AND created_at < $2 \
               AND ($3 IS NULL OR key_id = $3) AND ($4 IS NULL OR user_id = $4) \
               AND ($5 IS NULL OR requested_model = $5) AND ($6 IS NULL OR provider = $6) \
             ORDER BY created_at DESC, id DESC LIMIT $7 OFFSET $8"
        ))
        .bind(query.from)
        .bind(query.to)
        .bind(query.key_id)
        .bind(query.user_id)
        .bind(query.model.as_deref())
        .bind(query.provider.as_deref())
        .bind(page.sql_limit())
        .bind(page.sql_offset())
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(UsageRecord::try_from).collect()
    }

    /// Cost spent since `since` (a UTC hour boundary, unix ms), summed per key or per user:
    /// what a budget period has used so far. Read from the hourly rollups, which are written
    /// in the same transaction as the raw records, so the sum is exact for any period that
    /// starts on an hour (calendar days, weeks and months do) — as long as retention has not
    /// deleted the rollups of the period. Keys and users without spending are absent.
    pub async fn spend_since(&self, by: SpendBy, since: Millis) -> Result<Vec<(Uuid, Micros)>> {
        let sql = match by {
            SpendBy::Key => {
                "SELECT key_id AS id, CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS spent \
                 FROM usage_hourly WHERE hour >= $1 GROUP BY key_id"
            }
            SpendBy::User => {
                "SELECT user_id AS id, CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS spent \
                 FROM usage_hourly WHERE hour >= $1 GROUP BY user_id"
            }
        };
        let rows: Vec<(Uuid, i64)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(since - since.rem_euclid(HOUR_MS))
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .filter(|(id, spent)| !id.is_nil() && *spent != 0)
            .collect())
    }

    /// Retention: deletes raw usage records older than `before`. Rollups are kept (see
    /// [`Store::delete_rollups_before`]). Returns the number deleted.
    pub async fn delete_usage_before(&self, before: Millis) -> Result<u64> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM usage_records WHERE created_at < $1")
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// Retention in bounded steps: deletes at most `limit` raw usage records older than
    /// `before` (the oldest first) and returns how many; call again until it returns less
    /// than `limit`. Rollups are kept.
    pub async fn delete_usage_batch_before(&self, before: Millis, limit: u32) -> Result<u64> {
        let done = on_pool!(self, pool => sqlx::query(
            "DELETE FROM usage_records WHERE id IN \
             (SELECT id FROM usage_records WHERE created_at < $1 ORDER BY created_at LIMIT $2)"
        )
            .bind(before)
            .bind(i64::from(limit))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// Deletes hourly rollups for hours starting before `before`.
    pub async fn delete_rollups_before(&self, before: Millis) -> Result<u64> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM usage_hourly WHERE hour < $1")
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollups_group_by_hour_key_user_model_provider() {
        let key = Uuid::now_v7();
        let rec = |at: i64, model: &str, status: u16| UsageRecord {
            created_at: at,
            key_id: Some(key),
            requested_model: model.to_owned(),
            provider: Some("p".to_owned()),
            input_tokens: 10,
            cost_micros: 7,
            status,
            ..UsageRecord::default()
        };
        let records = [
            rec(HOUR_MS + 5, "a", 200),
            rec(2 * HOUR_MS - 1, "a", 500),
            rec(2 * HOUR_MS, "a", 200),
            rec(HOUR_MS, "b", 200),
        ];
        let r = rollups(&records);
        assert_eq!(r.len(), 3);
        let (k, s) = &r[0];
        assert_eq!(
            (k.hour, k.model, k.key_id, k.user_id),
            (HOUR_MS, "a", key, Uuid::nil())
        );
        assert_eq!(
            (s.requests, s.errors, s.input_tokens, s.cost_micros),
            (2, 1, 20, 14)
        );
    }
}
