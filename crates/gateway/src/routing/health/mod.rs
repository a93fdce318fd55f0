//! Health of routing targets, consulted by the router: circuit breakers, retry backoff,
//! upstream quota windows, latency averages and in-flight counts, and the registry that keeps
//! them per provider + model (and feeds `GET /health/detailed`).
//!
//! - [`breaker`]: closed → open → half-open probe → closed, per target or per credential.
//! - [`mod@backoff`]: exponential backoff with full jitter; `Retry-After` / `retry-after-ms`.
//! - [`ewma`]: a lock-free moving average of time to first token (the `latency` strategy).
//! - [`quota`]: the upstream's rate-limit window from its headers (the `quota` strategy).
//! - [`registry`]: [`TargetHealth`] per target, in a bounded, read-mostly map.
//!
//! All time comes from `tokio::time`, so tests run on paused time.

pub mod backoff;
pub mod breaker;
pub mod ewma;
pub mod quota;
pub mod registry;
mod timefmt;

pub use backoff::{backoff, backoff_ceiling, retry_after};
pub use breaker::{Admission, Breaker, BreakerConfig, BreakerSnapshot, BreakerState};
pub use ewma::Ewma;
pub use quota::{Quota, QuotaSnapshot, QuotaWindow};
pub use registry::{HealthRegistry, InFlightGuard, LastError, TargetHealth, TargetSnapshot};
