//! Usage analytics — totals, breakdowns and time series by key, user, model or provider —
//! answered from the hourly rollups only, so cost does not grow with the raw record count.
//!
//! Ranges are resolved at hour granularity: an hour is included when it starts in
//! `[floor_to_hour(from), to)`. Days are UTC days.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Store;
use crate::error::Result;
use crate::types::{Micros, Millis, to_u64};

const HOUR_MS: i64 = 3_600_000;

/// Which records to count: a time range plus optional equality filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQuery {
    pub from: Millis,
    /// Exclusive.
    pub to: Millis,
    pub key_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// The requested model name.
    pub model: Option<String>,
    pub provider: Option<String>,
}

impl UsageQuery {
    /// Everything in `[from, to)`.
    pub fn between(from: Millis, to: Millis) -> Self {
        Self {
            from,
            to,
            ..Self::default()
        }
    }
}

/// Bucket width of a time series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Hour,
    Day,
}

/// What to break totals down by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageDimension {
    Key,
    User,
    Model,
    Provider,
}

/// One group of a breakdown. `None` key/user = requests made without one; provider `""` =
/// requests that reached no provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum UsageGroup {
    Key(Option<Uuid>),
    User(Option<Uuid>),
    Model(String),
    Provider(String),
}

/// Summed usage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UsageTotals {
    pub requests: u64,
    pub errors: u64,
    pub cache_hits: u64,
    pub input_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_micros: Micros,
    /// Sum of latencies; divide by `requests` for the mean.
    pub latency_ms_sum: u64,
}

/// One row of a series or breakdown: a bucket start (series only), a group (when broken
/// down) and the totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UsagePoint {
    pub bucket: Option<Millis>,
    pub group: Option<UsageGroup>,
    pub totals: UsageTotals,
}

#[derive(sqlx::FromRow)]
struct AggRow {
    bucket: Option<i64>,
    key_id: Option<Uuid>,
    user_id: Option<Uuid>,
    model: Option<String>,
    provider: Option<String>,
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

impl AggRow {
    fn into_point(self, dimension: Option<UsageDimension>) -> UsagePoint {
        let not_nil = |id: Option<Uuid>| id.filter(|id| !id.is_nil());
        let group = dimension.map(|d| match d {
            UsageDimension::Key => UsageGroup::Key(not_nil(self.key_id)),
            UsageDimension::User => UsageGroup::User(not_nil(self.user_id)),
            UsageDimension::Model => UsageGroup::Model(self.model.clone().unwrap_or_default()),
            UsageDimension::Provider => {
                UsageGroup::Provider(self.provider.clone().unwrap_or_default())
            }
        });
        UsagePoint {
            bucket: self.bucket,
            group,
            totals: UsageTotals {
                requests: to_u64(self.requests),
                errors: to_u64(self.errors),
                cache_hits: to_u64(self.cache_hits),
                input_tokens: to_u64(self.input_tokens),
                cache_read_tokens: to_u64(self.cache_read_tokens),
                cache_write_tokens: to_u64(self.cache_write_tokens),
                output_tokens: to_u64(self.output_tokens),
                reasoning_tokens: to_u64(self.reasoning_tokens),
                cost_micros: self.cost_micros,
                latency_ms_sum: to_u64(self.latency_ms_sum),
            },
        }
    }
}

/// Builds the aggregate query. Only closed enums shape the SQL text; every value is bound.
fn aggregate_sql(granularity: Option<Granularity>, dimension: Option<UsageDimension>) -> String {
    let bucket = match granularity {
        None => None,
        Some(Granularity::Hour) => Some("hour"),
        Some(Granularity::Day) => Some("(hour / 86400000) * 86400000"),
    };
    let column = |d: UsageDimension, name: &'static str| (dimension == Some(d)).then_some(name);
    let dims = [
        ("bucket", bucket),
        ("key_id", column(UsageDimension::Key, "key_id")),
        ("user_id", column(UsageDimension::User, "user_id")),
        ("model", column(UsageDimension::Model, "model")),
        ("provider", column(UsageDimension::Provider, "provider")),
    ];
    let select: Vec<String> = dims
        .iter()
        .map(|(alias, expr)| format!("{} AS {alias}", expr.unwrap_or("NULL")))
        .collect();
    let group: Vec<&str> = dims.iter().filter_map(|(_, expr)| *expr).collect();
    let sums: Vec<String> = [
        "requests",
        "errors",
        "cache_hits",
        "input_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
        "cost_micros",
        "latency_ms_sum",
    ]
    .iter()
    .map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT) AS {c}"))
    .collect();
    let mut sql = format!(
        "SELECT {}, {} FROM usage_hourly \
         WHERE hour >= $1 AND hour < $2 AND ($3 IS NULL OR key_id = $3) AND ($4 IS NULL OR user_id = $4) \
           AND ($5 IS NULL OR model = $5) AND ($6 IS NULL OR provider = $6)",
        select.join(", "),
        sums.join(", ")
    );
    if !group.is_empty() {
        sql.push_str(&format!(" GROUP BY {}", group.join(", ")));
        sql.push_str(if bucket.is_some() {
            " ORDER BY 1, 2, 3, 4, 5"
        } else {
            " ORDER BY cost_micros DESC, requests DESC, 2, 3, 4, 5"
        });
    }
    sql
}

impl Store {
    /// Totals over the query's range and filters.
    pub async fn usage_totals(&self, query: &UsageQuery) -> Result<UsageTotals> {
        let points = self.aggregate(query, None, None).await?;
        Ok(points
            .into_iter()
            .next()
            .map(|p| p.totals)
            .unwrap_or_default())
    }

    /// Totals per key, user, model or provider, costliest first.
    pub async fn usage_breakdown(
        &self,
        query: &UsageQuery,
        by: UsageDimension,
    ) -> Result<Vec<UsagePoint>> {
        self.aggregate(query, None, Some(by)).await
    }

    /// Totals per hour or day (buckets without usage are absent), optionally also split by
    /// a dimension; ordered by bucket.
    pub async fn usage_series(
        &self,
        query: &UsageQuery,
        granularity: Granularity,
        by: Option<UsageDimension>,
    ) -> Result<Vec<UsagePoint>> {
        self.aggregate(query, Some(granularity), by).await
    }

    async fn aggregate(
        &self,
        query: &UsageQuery,
        granularity: Option<Granularity>,
        by: Option<UsageDimension>,
    ) -> Result<Vec<UsagePoint>> {
        let sql = aggregate_sql(granularity, by);
        let from = query.from - query.from.rem_euclid(HOUR_MS);
        let rows: Vec<AggRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(from)
            .bind(query.to)
            .bind(query.key_id)
            .bind(query.user_id)
            .bind(query.model.as_deref())
            .bind(query.provider.as_deref())
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(|r| r.into_point(by)).collect())
    }
}
