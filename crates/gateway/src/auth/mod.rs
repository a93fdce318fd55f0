//! Client authentication: the key may come as `Authorization: Bearer`, `x-api-key` or
//! `x-goog-api-key`. Keys are gateway keys from the store (`sk-sb-…`, looked up by keyed hash
//! in an in-memory snapshot) or static keys from the configuration. With neither the gateway
//! is open (loopback only, enforced at start-up by `Config::check_exposure`).

use std::sync::Arc;

use http::HeaderMap;

use crate::config::AuthSettings;
use crate::error::GatewayError;

pub mod keys;
pub mod lockout;

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// No keys exist: single-user local use.
    Open,
    /// One of the static gateway keys, by its position in `auth.keys`.
    StaticKey(usize),
    /// A gateway key from the store, with its user and limits.
    Key(Arc<keys::KeyEntry>),
}

impl Principal {
    /// A stable name for scoping per-caller state (idempotency keys); never a secret.
    pub fn scope(&self) -> String {
        match self {
            Self::Open => "open".into(),
            Self::StaticKey(i) => format!("static:{i}"),
            Self::Key(k) => format!("key:{}", k.id),
        }
    }

    pub fn key(&self) -> Option<&keys::KeyEntry> {
        match self {
            Self::Key(k) => Some(k),
            _ => None,
        }
    }
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

pub fn authenticate(
    auth: &AuthSettings,
    registry: Option<&keys::KeyRegistry>,
    headers: &HeaderMap,
) -> Result<Principal, GatewayError> {
    let stored = registry.filter(|r| !r.none_created());
    if auth.keys.is_empty() && stored.is_none() {
        return Ok(Principal::Open);
    }
    let key = presented_key(headers).ok_or(GatewayError::Unauthorized(
        "missing API key: send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'",
    ))?;
    if let Some(registry) = stored
        && key.starts_with(keys::KEY_PREFIX)
    {
        return match registry.lookup(key) {
            Some(entry) if entry.expired() => {
                Err(GatewayError::Unauthorized("this API key has expired"))
            }
            Some(entry) => Ok(Principal::Key(entry)),
            None => Err(GatewayError::Unauthorized("invalid API key")),
        };
    }
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
            assert!(matches!(
                authenticate(&auth, None, &h),
                Ok(Principal::StaticKey(1))
            ));
        }
        assert!(authenticate(&auth, None, &headers(&[("authorization", "Bearer nope")])).is_err());
        assert!(authenticate(&auth, None, &HeaderMap::new()).is_err());
        assert!(matches!(
            authenticate(&AuthSettings::default(), None, &HeaderMap::new()),
            Ok(Principal::Open)
        ));
    }
}
