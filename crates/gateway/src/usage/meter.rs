//! [`Meter`]: the accounting one request carries to its end — its limits admission and where
//! its usage record goes. When the request's [`Exchange`] finishes (completed, failed, or the
//! client went away) the meter prices the usage, records it, and settles the admission to the
//! actual tokens and cost in a tracked background task.

use tokio_util::task::TaskTracker;

use super::{UsageHandle, UsageRecord, cost_micros, unix_ms};
use crate::limits::{Admission, Limiter};
use crate::providers::Prices;
use crate::telemetry::Exchange;

/// Per-request accounting, filled in along the request path.
pub struct Meter {
    pub usage: Option<UsageHandle>,
    pub limiter: Limiter,
    pub admission: Option<Admission>,
    /// Prices of the target that answered.
    pub prices: Option<Prices>,
    pub key_id: Option<String>,
    pub user_id: Option<String>,
    pub tasks: TaskTracker,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("key_id", &self.key_id)
            .field("admitted", &self.admission.is_some())
            .finish_non_exhaustive()
    }
}

impl Meter {
    /// Records the request's usage and settles its admission. A request that produced no
    /// output costs nothing; one cut short is charged for the usage that was reported.
    pub fn finish(self, exchange: &Exchange) {
        let usage = exchange.usage.unwrap_or_default();
        let reached_upstream = exchange.status == 200 || exchange.usage.is_some();
        let cost = if reached_upstream {
            self.prices.as_ref().and_then(|p| cost_micros(&usage, p))
        } else {
            Some(0)
        };
        if let Some(handle) = &self.usage {
            handle.record(UsageRecord {
                at: unix_ms(exchange.started_wall),
                request_id: exchange.request_id.to_string(),
                key_id: self.key_id.clone(),
                user_id: self.user_id.clone(),
                requested_model: exchange.model.clone().unwrap_or_default(),
                provider: exchange.provider.clone(),
                upstream_model: exchange.upstream_model.clone(),
                dialect_in: wire::Dialect::OpenAi,
                dialect_out: exchange.provider.as_ref().map(|_| wire::WireFormat::OpenAi),
                usage,
                cost_micros: cost,
                latency_ms: u64::try_from(exchange.started.elapsed().as_millis())
                    .unwrap_or(u64::MAX),
                ttft_ms: exchange
                    .first_byte
                    .map(|t| u64::try_from((t - exchange.started).as_millis()).unwrap_or(u64::MAX)),
                status: exchange.status,
                attempts: exchange.attempts,
                cache_hit: false,
            });
        }
        if let Some(admission) = self.admission {
            let limiter = self.limiter;
            let tokens = usage.total();
            // Settling may talk to Redis: never on the caller's path (this runs from Drop too).
            self.tasks.spawn(async move {
                limiter.settle(admission, tokens, cost.unwrap_or(0)).await;
            });
        }
    }
}
