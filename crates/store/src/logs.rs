//! Request logs: optional request/response bodies, written in batches beside the usage
//! records, with retention.
//!
//! Bodies arrive already truncated and redacted by the caller; this module stores them as
//! given. Several rows may share a `request_id` (a client can reuse its `x-request-id`).

use serde::{Deserialize, Serialize};

use crate::Store;
use crate::error::{Result, StoreError};
use crate::types::{Millis, Page};

/// One logged request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLog {
    pub request_id: String,
    pub created_at: Millis,
    pub status: u16,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LogRow {
    request_id: String,
    created_at: i64,
    status: i64,
    request_body: Option<String>,
    response_body: Option<String>,
}

impl TryFrom<LogRow> for RequestLog {
    type Error = StoreError;
    fn try_from(r: LogRow) -> Result<Self> {
        Ok(Self {
            request_id: r.request_id,
            created_at: r.created_at,
            status: u16::try_from(r.status)
                .map_err(|e| StoreError::corrupt("request log status", e))?,
            request_body: r.request_body,
            response_body: r.response_body,
        })
    }
}

/// Rows per multi-row `INSERT`.
const INSERT_CHUNK: usize = 1000;

impl Store {
    /// Writes a batch of request logs in one transaction.
    pub async fn insert_request_logs(&self, logs: &[RequestLog]) -> Result<()> {
        if logs.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool, Db => {
            let mut tx = pool.begin().await?;
            for chunk in logs.chunks(INSERT_CHUNK) {
                let mut qb = sqlx::QueryBuilder::<Db>::new(
                    "INSERT INTO request_logs (request_id, created_at, status, request_body, response_body) ",
                );
                qb.push_values(chunk, |mut row, log| {
                    row.push_bind(log.request_id.as_str())
                        .push_bind(log.created_at)
                        .push_bind(i64::from(log.status))
                        .push_bind(log.request_body.as_deref())
                        .push_bind(log.response_body.as_deref());
                });
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The logs for one request id (usually one), oldest first.
    pub async fn get_request_logs(&self, request_id: &str) -> Result<Vec<RequestLog>> {
        let rows: Vec<LogRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT request_id, created_at, status, request_body, response_body FROM request_logs \
             WHERE request_id = $1 ORDER BY created_at, id"
        )
        .bind(request_id)
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(RequestLog::try_from).collect()
    }

    /// Logs in `[from, to)`, newest first.
    pub async fn list_request_logs(
        &self,
        from: Millis,
        to: Millis,
        page: Page,
    ) -> Result<Vec<RequestLog>> {
        let rows: Vec<LogRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT request_id, created_at, status, request_body, response_body FROM request_logs \
             WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
        )
        .bind(from)
        .bind(to)
        .bind(page.sql_limit())
        .bind(page.sql_offset())
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(RequestLog::try_from).collect()
    }

    /// Retention in bounded steps: deletes at most `limit` logs older than `before` (the
    /// oldest first) and returns how many; call again until it returns less than `limit`.
    pub async fn delete_request_logs_batch_before(
        &self,
        before: Millis,
        limit: u32,
    ) -> Result<u64> {
        let done = on_pool!(self, pool => sqlx::query(
            "DELETE FROM request_logs WHERE id IN \
             (SELECT id FROM request_logs WHERE created_at < $1 ORDER BY created_at LIMIT $2)"
        )
            .bind(before)
            .bind(i64::from(limit))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// Retention: deletes logs older than `before`; returns how many.
    pub async fn delete_request_logs_before(&self, before: Millis) -> Result<u64> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM request_logs WHERE created_at < $1")
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }
}
