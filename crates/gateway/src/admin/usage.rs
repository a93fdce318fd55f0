//! Usage and request logs: totals, breakdowns and time series (answered from the store's
//! hourly rollups, so an hour counts when it starts in `[from, to)`), raw usage records
//! (paginated, newest first), and logged request bodies.
//!
//! Every query takes `from`/`to` in unix milliseconds — `from` defaults to 0 (all time),
//! `to` to just after now — and optional `key_id`, `user_id`, `model` (the requested name)
//! and `provider` filters.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use store::{
    Granularity, RequestLog, UsageDimension, UsageGroup, UsagePoint, UsageQuery, UsageTotals,
    now_millis,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::common::page;
use super::error::{AdminError, ErrorBody};
use super::extract::{self, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(totals))
        .routes(routes!(breakdown))
        .routes(routes!(series))
        .routes(routes!(records))
        .routes(routes!(logs))
}

/// Declares a query-string struct with the shared range and filters plus `$extra` fields.
/// (Not `#[serde(flatten)]`: query strings deserialize every value as text, and flattened
/// numbers then fail to parse.)
macro_rules! usage_params {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize, IntoParams)]
        #[into_params(parameter_in = Query)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Start, unix ms (inclusive; default 0).
            from: Option<i64>,
            /// End, unix ms (exclusive; default just after now).
            to: Option<i64>,
            key_id: Option<Uuid>,
            user_id: Option<Uuid>,
            /// The model name clients asked for.
            model: Option<String>,
            provider: Option<String>,
            $($(#[$fmeta])* $field: $ty,)*
        }

        impl $name {
            fn query(&self) -> UsageQuery {
                UsageQuery {
                    from: self.from.unwrap_or(0),
                    to: self.to.unwrap_or_else(|| now_millis().saturating_add(1)),
                    key_id: self.key_id,
                    user_id: self.user_id,
                    model: self.model.clone(),
                    provider: self.provider.clone(),
                }
            }
        }
    };
}

usage_params!(TotalsQuery {});
usage_params!(BreakdownQuery {
    /// What to group by.
    by: Dimension,
});
usage_params!(SeriesQuery {
    /// Bucket width (default `hour`).
    granularity: Option<GranularityDto>,
    /// Also split each bucket by this.
    by: Option<Dimension>,
});
usage_params!(RecordsQuery {
    /// Page size, 1..=1000 (default 50).
    limit: Option<u32>,
    offset: Option<u64>,
});

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Key,
    User,
    Model,
    Provider,
}

impl From<Dimension> for UsageDimension {
    fn from(d: Dimension) -> Self {
        match d {
            Dimension::Key => Self::Key,
            Dimension::User => Self::User,
            Dimension::Model => Self::Model,
            Dimension::Provider => Self::Provider,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GranularityDto {
    #[default]
    Hour,
    Day,
}

/// Summed usage. Money in micro-dollars.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotalsDto {
    pub requests: u64,
    pub errors: u64,
    pub cache_hits: u64,
    pub input_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_micros: i64,
    /// Sum of latencies; divide by `requests` for the mean.
    pub latency_ms_sum: u64,
}

impl From<UsageTotals> for TotalsDto {
    fn from(t: UsageTotals) -> Self {
        Self {
            requests: t.requests,
            errors: t.errors,
            cache_hits: t.cache_hits,
            input_tokens: t.input_tokens,
            cache_read_tokens: t.cache_read_tokens,
            cache_write_tokens: t.cache_write_tokens,
            output_tokens: t.output_tokens,
            reasoning_tokens: t.reasoning_tokens,
            cost_micros: t.cost_micros,
            latency_ms_sum: t.latency_ms_sum,
        }
    }
}

/// One group of a breakdown: `value` is the key or user id (null: requests without one),
/// the model name, or the provider id (`""`: requests that reached none).
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupDto {
    pub by: Dimension,
    pub value: Option<String>,
}

/// One row of a breakdown or series.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointDto {
    /// Bucket start, unix ms (series only).
    pub bucket: Option<i64>,
    pub group: Option<GroupDto>,
    pub totals: TotalsDto,
}

impl From<UsagePoint> for PointDto {
    fn from(p: UsagePoint) -> Self {
        let group = p.group.map(|g| match g {
            UsageGroup::Key(id) => (Dimension::Key, id.map(|id| id.to_string())),
            UsageGroup::User(id) => (Dimension::User, id.map(|id| id.to_string())),
            UsageGroup::Model(m) => (Dimension::Model, Some(m)),
            UsageGroup::Provider(p) => (Dimension::Provider, Some(p)),
        });
        Self {
            bucket: p.bucket,
            group: group.map(|(by, value)| GroupDto { by, value }),
            totals: p.totals.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointList {
    pub items: Vec<PointDto>,
}

/// One request's usage record.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordDto {
    pub created_at: i64,
    pub request_id: String,
    pub key_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub requested_model: String,
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    pub dialect_in: String,
    pub dialect_out: Option<String>,
    pub input_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_micros: i64,
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    pub status: u16,
    pub attempts: u32,
    pub cache_hit: bool,
}

impl From<store::UsageRecord> for RecordDto {
    fn from(r: store::UsageRecord) -> Self {
        Self {
            created_at: r.created_at,
            request_id: r.request_id,
            key_id: r.key_id,
            user_id: r.user_id,
            requested_model: r.requested_model,
            provider: r.provider,
            upstream_model: r.upstream_model,
            dialect_in: r.dialect_in,
            dialect_out: r.dialect_out,
            input_tokens: r.input_tokens,
            cache_read_tokens: r.cache_read_tokens,
            cache_write_tokens: r.cache_write_tokens,
            output_tokens: r.output_tokens,
            reasoning_tokens: r.reasoning_tokens,
            cost_micros: r.cost_micros,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            status: r.status,
            attempts: r.attempts,
            cache_hit: r.cache_hit,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordList {
    pub items: Vec<RecordDto>,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Start, unix ms (inclusive; default 0).
    from: Option<i64>,
    /// End, unix ms (exclusive; default just after now).
    to: Option<i64>,
    /// Only this request's logs (then `from`, `to` and paging are ignored).
    request_id: Option<String>,
    /// Page size, 1..=1000 (default 50).
    limit: Option<u32>,
    offset: Option<u64>,
}

/// A logged request (bodies present only when body logging is on; already truncated and
/// redacted when written).
#[derive(Debug, Serialize, ToSchema)]
pub struct LogDto {
    pub request_id: String,
    pub created_at: i64,
    pub status: u16,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

impl From<RequestLog> for LogDto {
    fn from(l: RequestLog) -> Self {
        Self {
            request_id: l.request_id,
            created_at: l.created_at,
            status: l.status,
            request_body: l.request_body,
            response_body: l.response_body,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogList {
    pub items: Vec<LogDto>,
    pub limit: u32,
    pub offset: u64,
}

/// Totals over a range.
#[utoipa::path(get, operation_id = "usage_totals", path = "/usage/totals", tag = "usage", params(TotalsQuery),
    responses((status = 200, body = TotalsDto), (status = 401, body = ErrorBody)))]
pub async fn totals(
    State(state): State<AppState>,
    Query(q): Query<TotalsQuery>,
) -> Result<Json<TotalsDto>, AdminError> {
    let totals = extract::store(&state)?.usage_totals(&q.query()).await?;
    Ok(Json(totals.into()))
}

/// Totals per key, user, model or provider, costliest first.
#[utoipa::path(get, operation_id = "usage_breakdown", path = "/usage/breakdown", tag = "usage", params(BreakdownQuery),
    responses((status = 200, body = PointList), (status = 400, body = ErrorBody)))]
pub async fn breakdown(
    State(state): State<AppState>,
    Query(q): Query<BreakdownQuery>,
) -> Result<Json<PointList>, AdminError> {
    let points = extract::store(&state)?
        .usage_breakdown(&q.query(), q.by.into())
        .await?;
    Ok(Json(PointList {
        items: points.into_iter().map(Into::into).collect(),
    }))
}

/// Totals per hour or UTC day (buckets without usage are absent), optionally split.
#[utoipa::path(get, operation_id = "usage_series", path = "/usage/series", tag = "usage", params(SeriesQuery),
    responses((status = 200, body = PointList), (status = 400, body = ErrorBody)))]
pub async fn series(
    State(state): State<AppState>,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<PointList>, AdminError> {
    let granularity = match q.granularity.unwrap_or_default() {
        GranularityDto::Hour => Granularity::Hour,
        GranularityDto::Day => Granularity::Day,
    };
    let points = extract::store(&state)?
        .usage_series(&q.query(), granularity, q.by.map(Into::into))
        .await?;
    Ok(Json(PointList {
        items: points.into_iter().map(Into::into).collect(),
    }))
}

/// Raw usage records, newest first.
#[utoipa::path(get, operation_id = "usage_records", path = "/usage/records", tag = "usage", params(RecordsQuery),
    responses((status = 200, body = RecordList), (status = 400, body = ErrorBody)))]
pub async fn records(
    State(state): State<AppState>,
    Query(q): Query<RecordsQuery>,
) -> Result<Json<RecordList>, AdminError> {
    let page = page(q.limit, q.offset);
    let records = extract::store(&state)?.list_usage(&q.query(), page).await?;
    Ok(Json(RecordList {
        items: records.into_iter().map(Into::into).collect(),
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Logged requests, newest first, or the logs of one request id.
#[utoipa::path(get, operation_id = "list_logs", path = "/logs", tag = "usage", params(LogsQuery),
    responses((status = 200, body = LogList), (status = 400, body = ErrorBody)))]
pub async fn logs(
    State(state): State<AppState>,
    Query(q): Query<LogsQuery>,
) -> Result<Json<LogList>, AdminError> {
    let store = extract::store(&state)?;
    let page = page(q.limit, q.offset);
    let logs = match &q.request_id {
        Some(id) => store.get_request_logs(id).await?,
        None => {
            let to = q.to.unwrap_or_else(|| now_millis().saturating_add(1));
            store
                .list_request_logs(q.from.unwrap_or(0), to, page)
                .await?
        }
    };
    Ok(Json(LogList {
        items: logs.into_iter().map(Into::into).collect(),
        limit: page.limit,
        offset: page.offset,
    }))
}
