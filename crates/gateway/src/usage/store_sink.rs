//! [`StoreSink`]: usage batches into the SQL store (one transaction per batch, with the hourly
//! rollups), mapping the gateway's record to the store's.

use std::sync::Arc;

use super::{BoxFuture, UsageRecord, UsageSink};

pub struct StoreSink(pub store::Store);

impl UsageSink for StoreSink {
    fn write_batch(&self, batch: Vec<UsageRecord>) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let rows: Vec<store::UsageRecord> = batch.iter().map(to_store).collect();
            self.0
                .insert_usage_batch(&rows)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

impl StoreSink {
    pub fn shared(store: store::Store) -> Arc<dyn UsageSink> {
        Arc::new(Self(store))
    }
}

fn to_store(r: &UsageRecord) -> store::UsageRecord {
    let id = |s: &Option<String>| s.as_deref().and_then(|v| uuid::Uuid::parse_str(v).ok());
    store::UsageRecord {
        created_at: i64::try_from(r.at).unwrap_or(i64::MAX),
        request_id: r.request_id.clone(),
        key_id: id(&r.key_id),
        user_id: id(&r.user_id),
        requested_model: r.requested_model.clone(),
        provider: r.provider.clone(),
        upstream_model: r.upstream_model.clone(),
        dialect_in: r.dialect_in.as_str().to_owned(),
        dialect_out: r.dialect_out.map(|d| d.as_str().to_owned()),
        input_tokens: r.usage.input,
        cache_read_tokens: r.usage.cache_read,
        cache_write_tokens: r.usage.cache_write,
        output_tokens: r.usage.output,
        reasoning_tokens: r.usage.reasoning,
        cost_micros: r.cost_micros.unwrap_or(0),
        latency_ms: r.latency_ms,
        ttft_ms: r.ttft_ms,
        status: r.status,
        attempts: r.attempts,
        cache_hit: r.cache_hit,
    }
}
