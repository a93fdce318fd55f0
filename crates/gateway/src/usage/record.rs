//! [`UsageRecord`]: what one request used and cost, the row a [`super::UsageSink`] stores.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use wire::{Dialect, Usage, WireFormat};

/// One request's usage, written once when the request ends (completed, failed or abandoned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRecord {
    /// When the request arrived, in Unix milliseconds (see [`unix_ms`]).
    pub at: u64,
    /// The request id (`x-request-id`, the client's or a UUIDv7).
    pub request_id: String,
    /// The gateway key that made the request; `None` in open (keyless) mode.
    pub key_id: Option<String>,
    /// The key's owner.
    pub user_id: Option<String>,
    /// The model name as the client sent it (alias, combo, `provider/model`, …).
    pub requested_model: String,
    /// The provider that served the last attempt; `None` when none was reached.
    pub provider: Option<String>,
    /// The model name sent upstream on the last attempt.
    pub upstream_model: Option<String>,
    /// The dialect the client spoke.
    pub dialect_in: Dialect,
    /// The wire format spoken upstream on the last attempt; `None` when none was reached.
    pub dialect_out: Option<WireFormat>,
    /// Normalized tokens: `input` excludes cache reads and writes, `output` includes
    /// reasoning.
    pub usage: Usage,
    /// Cost in micro-dollars ([`super::cost_micros`]); `None` when the model's prices are
    /// unknown.
    pub cost_micros: Option<i64>,
    /// From arrival to the end of the response (the last byte of a stream).
    pub latency_ms: u64,
    /// From arrival to the first byte of the response body; `None` when none was sent.
    pub ttft_ms: Option<u64>,
    /// The HTTP status returned to the client.
    pub status: u16,
    /// Upstream attempts made, retries and fallbacks included (0 when rejected before any).
    pub attempts: u32,
    /// Whether the response came from the gateway's response cache.
    pub cache_hit: bool,
}

/// `time` in milliseconds since the Unix epoch; 0 for a time before it, `u64::MAX` past
/// the year 584 million.
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    #[test]
    fn serializes_every_field_with_stable_names() {
        let record = UsageRecord {
            at: 1_767_225_600_000,
            request_id: "0194-req".into(),
            key_id: Some("key_1".into()),
            user_id: None,
            requested_model: "smart".into(),
            provider: Some("groq".into()),
            upstream_model: Some("llama-3.3-70b-versatile".into()),
            dialect_in: Dialect::OpenAi,
            dialect_out: Some(WireFormat::OpenAi),
            usage: Usage {
                input: 86,
                cache_read: 1920,
                cache_write: 0,
                output: 300,
                reasoning: 256,
            },
            cost_micros: Some(1234),
            latency_ms: 850,
            ttft_ms: Some(120),
            status: 200,
            attempts: 2,
            cache_hit: false,
        };
        let value = serde_json::to_value(&record).expect("serializes");
        assert_eq!(
            value,
            json!({
                "at": 1_767_225_600_000u64,
                "request_id": "0194-req",
                "key_id": "key_1",
                "user_id": null,
                "requested_model": "smart",
                "provider": "groq",
                "upstream_model": "llama-3.3-70b-versatile",
                "dialect_in": "openai",
                "dialect_out": "openai",
                "usage": {
                    "input": 86,
                    "cache_read": 1920,
                    "cache_write": 0,
                    "output": 300,
                    "reasoning": 256
                },
                "cost_micros": 1234,
                "latency_ms": 850,
                "ttft_ms": 120,
                "status": 200,
                "attempts": 2,
                "cache_hit": false
            })
        );
    }

    #[test]
    fn unix_ms_of_known_times() {
        assert_eq!(unix_ms(UNIX_EPOCH), 0);
        assert_eq!(unix_ms(UNIX_EPOCH + Duration::from_millis(1500)), 1500);
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert!(unix_ms(SystemTime::now()) > 1_700_000_000_000);
    }
}
