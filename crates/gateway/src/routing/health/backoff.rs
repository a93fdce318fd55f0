//! Retry timing inside one target: exponential backoff with full jitter, and the upstream's
//! own `Retry-After` / `retry-after-ms` when it sends one.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

use super::timefmt::{parse_http_date, parse_seconds};

/// How long to wait before retry number `attempt` (0 for the first retry): a uniformly random
/// duration in `[0, min(cap, base × 2^attempt)]` ("full jitter"), so that many clients
/// retrying at once spread out instead of arriving together.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = backoff_ceiling(attempt, base, cap);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::random_range(0..=nanos))
}

/// The upper bound [`backoff`] draws from: `min(cap, base × 2^attempt)`, saturating.
pub fn backoff_ceiling(attempt: u32, base: Duration, cap: Duration) -> Duration {
    base.saturating_mul(2u32.saturating_pow(attempt)).min(cap)
}

/// How long the upstream asked us to wait, from `retry-after-ms` (milliseconds, sent by
/// OpenAI and Azure; preferred because it is finer) or `Retry-After` (seconds, or an HTTP
/// date; a date in the past means "now"). `None` when neither is present and well-formed.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

/// [`retry_after`] against a given wall clock, for tests.
pub(super) fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(parse_seconds) {
        // Parsed as seconds, so scale down to milliseconds.
        return Some(ms / 1000);
    }
    let value = header("retry-after")?;
    parse_seconds(value).or_else(|| {
        let at = parse_http_date(value)?;
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    })
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn ceiling_grows_exponentially_up_to_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        let ceilings: Vec<u128> = (0..8)
            .map(|a| backoff_ceiling(a, base, cap).as_millis())
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff_ceiling(u32::MAX, base, cap), cap);
        assert_eq!(
            backoff_ceiling(200, Duration::MAX, Duration::MAX),
            Duration::MAX
        );
    }

    #[test]
    fn backoff_stays_within_bounds_and_jitters() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        for attempt in 0..10 {
            let ceiling = backoff_ceiling(attempt, base, cap);
            let samples: Vec<Duration> = (0..200).map(|_| backoff(attempt, base, cap)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter: the draws are spread over the range, not all at the ceiling.
            assert!(
                samples.iter().any(|d| *d < ceiling / 2),
                "attempt {attempt}"
            );
            assert!(
                samples.iter().any(|d| *d > ceiling / 2),
                "attempt {attempt}"
            );
        }
        assert_eq!(backoff(3, Duration::ZERO, cap), Duration::ZERO);
    }

    #[test]
    fn retry_after_in_seconds() {
        let h = headers(&[("retry-after", "20")]);
        assert_eq!(retry_after(&h), Some(Duration::from_secs(20)));
        let h = headers(&[("retry-after", "1.5")]);
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after(&HeaderMap::new()), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")])), None);
    }

    #[test]
    fn retry_after_as_an_http_date() {
        let now = UNIX_EPOCH + Duration::from_secs(1_714_564_800); // 2024-05-01T12:00:00Z
        let h = headers(&[("retry-after", "Wed, 01 May 2024 12:00:30 GMT")]);
        assert_eq!(retry_after_at(&h, now), Some(Duration::from_secs(30)));
        let past = headers(&[("retry-after", "Wed, 01 May 2024 11:00:00 GMT")]);
        assert_eq!(retry_after_at(&past, now), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_ms_wins() {
        let h = headers(&[("retry-after-ms", "250"), ("retry-after", "1")]);
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let h = headers(&[("retry-after-ms", "12.5")]);
        assert_eq!(retry_after(&h), Some(Duration::from_micros(12_500)));
        // A malformed retry-after-ms falls back to Retry-After.
        let h = headers(&[("retry-after-ms", "x"), ("retry-after", "2")]);
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
    }
}
