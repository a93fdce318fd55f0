//! Client authentication: the key may come as `Authorization: Bearer`, `x-api-key` or
//! `x-goog-api-key`. With no gateway keys configured the gateway is open (loopback only,
//! enforced at start-up by `Config::check_exposure`).

use http::HeaderMap;

use crate::config::AuthSettings;
use crate::error::GatewayError;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No keys are configured: single-user local use.
    Open,
    /// One of the static gateway keys, by its position in `auth.keys`.
    StaticKey(usize),
}

/// The key a client presented, from whichever header carried it.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if let Some(token) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(token.trim());
        }
    }
    ["x-api-key", "x-goog-api-key"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

pub fn authenticate(auth: &AuthSettings, headers: &HeaderMap) -> Result<Principal, GatewayError> {
    if auth.keys.is_empty() {
        return Ok(Principal::Open);
    }
    let key = presented_key(headers).ok_or(GatewayError::Unauthorized(
        "missing API key: send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'",
    ))?;
    // Compare against every key without an early exit so timing says nothing about which matched.
    let mut found = None;
    for (i, k) in auth.keys.iter().enumerate() {
        if constant_time_eq(k.expose().as_bytes(), key.as_bytes()) && found.is_none() {
            found = Some(i);
        }
    }
    found
        .map(Principal::StaticKey)
        .ok_or(GatewayError::Unauthorized("invalid API key"))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = v.parse() {
                h.insert(*k, v);
            }
        }
        h
    }

    #[test]
    fn any_of_the_three_headers_carries_the_key() {
        let auth = AuthSettings {
            keys: vec![Secret::new("k1"), Secret::new("k2")],
            allow_open: false,
        };
        for h in [
            headers(&[("authorization", "Bearer k2")]),
            headers(&[("x-api-key", "k2")]),
            headers(&[("x-goog-api-key", "k2")]),
        ] {
            assert_eq!(authenticate(&auth, &h).ok(), Some(Principal::StaticKey(1)));
        }
        assert!(authenticate(&auth, &headers(&[("authorization", "Bearer nope")])).is_err());
        assert!(authenticate(&auth, &HeaderMap::new()).is_err());
        assert_eq!(
            authenticate(&AuthSettings::default(), &HeaderMap::new()).ok(),
            Some(Principal::Open)
        );
    }
}
