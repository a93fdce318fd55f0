//! One call to an OAuth2 token endpoint with the refresh-token grant (RFC 6749 §6): the
//! form-encoded request (client credentials in the body, §2.3.1), the success response
//! (§5.1) and the error response (§5.2).

use std::time::Duration;

use http::StatusCode;
use http::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;

use super::oauth::OAuth2Config;
use super::slot::truncate;
use crate::secret::Secret;

/// A token request that takes longer than this fails (and cools the credential down).
pub(super) const REFRESH_TIMEOUT: Duration = Duration::from_secs(10);

/// Token lifetime when the response has no `expires_in` (it is only RECOMMENDED).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// Longest lifetime believed, so instant arithmetic cannot overflow.
const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// What the token endpoint granted.
#[derive(Debug)]
pub(super) struct Grant {
    pub(super) access_token: Secret,
    pub(super) lifetime: Duration,
    /// A rotated refresh token, to use from now on instead of the old one.
    pub(super) refresh_token: Option<Secret>,
}

/// Why a refresh failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokenError {
    /// The endpoint refused the grant (400/401: revoked refresh token, wrong client):
    /// retrying will not help, so the credential is disabled.
    Rejected(String),
    /// Timeout, connection error, 5xx or a response that makes no sense: may pass, so the
    /// credential cools down.
    Unavailable(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rejected(reason) | Self::Unavailable(reason) => f.write_str(reason),
        }
    }
}

/// RFC 6749 §5.1. `expires_in` is read leniently: some servers send it as a string.
#[derive(Deserialize)]
struct Success {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// RFC 6749 §5.2.
#[derive(Deserialize)]
struct Failure {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Exchanges `refresh_token` for a new access token.
pub(super) async fn refresh(
    http: &reqwest::Client,
    cfg: &OAuth2Config,
    refresh_token: &Secret,
) -> Result<Grant, TokenError> {
    let mut fields = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
        ("client_id", cfg.client_id.as_str()),
    ];
    if let Some(secret) = &cfg.client_secret {
        fields.push(("client_secret", secret.expose()));
    }
    if let Some(scope) = &cfg.scope {
        fields.push(("scope", scope.as_str()));
    }
    let exchange = async {
        let response = http
            .post(&cfg.token_url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(form(&fields))
            .send()
            .await?;
        let status = response.status();
        Ok::<_, reqwest::Error>((status, response.bytes().await?))
    };
    let (status, body) = match tokio::time::timeout(REFRESH_TIMEOUT, exchange).await {
        Err(_) => {
            let secs = REFRESH_TIMEOUT.as_secs();
            return Err(TokenError::Unavailable(format!(
                "token endpoint did not answer within {secs} s"
            )));
        }
        Ok(Err(e)) => {
            return Err(TokenError::Unavailable(format!(
                "token endpoint unreachable: {}",
                chain(&e.without_url())
            )));
        }
        Ok(Ok(answer)) => answer,
    };
    parse(status, &body)
}

fn parse(status: StatusCode, body: &[u8]) -> Result<Grant, TokenError> {
    if status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED {
        // Only the standard fields are quoted: the body itself is never logged.
        let detail = match serde_json::from_slice::<Failure>(body) {
            Ok(Failure {
                error,
                error_description: Some(description),
            }) => format!(" {error}: {description}"),
            Ok(Failure { error, .. }) => format!(" {error}"),
            Err(_) => String::new(),
        };
        let reason = format!("token refresh rejected: {}{detail}", status.as_u16());
        return Err(TokenError::Rejected(truncate(&reason, 200)));
    }
    if !status.is_success() {
        return Err(TokenError::Unavailable(format!(
            "token endpoint answered {}",
            status.as_u16()
        )));
    }
    let success: Success = serde_json::from_slice(body).map_err(|_| {
        TokenError::Unavailable("token endpoint sent no access_token in its JSON".into())
    })?;
    if success.access_token.is_empty() {
        return Err(TokenError::Unavailable(
            "token endpoint sent an empty access_token".into(),
        ));
    }
    let lifetime = success
        .expires_in
        .as_ref()
        .and_then(seconds)
        .unwrap_or(DEFAULT_LIFETIME)
        .min(MAX_LIFETIME);
    Ok(Grant {
        access_token: Secret::new(success.access_token),
        lifetime,
        refresh_token: success
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(Secret::new),
    })
}

/// `expires_in` as a number or a numeric string of seconds.
fn seconds(value: &serde_json::Value) -> Option<Duration> {
    let secs = match value {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs.min(MAX_LIFETIME.as_secs_f64())).ok()
}

/// An error and its sources, joined by `: `.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// `application/x-www-form-urlencoded` (the WHATWG serializer): unreserved bytes as they
/// are, space as `+`, everything else percent-encoded.
pub(super) fn form(fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, name);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                // Both indices are below 16.
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        let body = form(&[("a b", "x&y=z"), ("k", "é/+~*-._")]);
        assert_eq!(body, "a+b=x%26y%3Dz&k=%C3%A9%2F%2B%7E*-._");
    }

    #[test]
    fn success_responses() {
        let ok = |body: &str| parse(StatusCode::OK, body.as_bytes());
        let grant =
            ok(r#"{"access_token":"a","expires_in":120,"refresh_token":"r2"}"#).expect("a grant");
        assert_eq!(grant.access_token.expose(), "a");
        assert_eq!(grant.lifetime, Duration::from_secs(120));
        assert_eq!(grant.refresh_token.as_ref().map(Secret::expose), Some("r2"));
        let grant = ok(r#"{"access_token":"a","token_type":"Bearer"}"#).expect("a grant");
        assert_eq!(grant.lifetime, DEFAULT_LIFETIME);
        assert!(grant.refresh_token.is_none());
        let grant = ok(r#"{"access_token":"a","expires_in":"90"}"#).expect("a grant");
        assert_eq!(grant.lifetime, Duration::from_secs(90));
        let grant = ok(r#"{"access_token":"a","expires_in":1e300}"#).expect("a grant");
        assert_eq!(grant.lifetime, MAX_LIFETIME);
        assert!(matches!(ok("{}"), Err(TokenError::Unavailable(_))));
        assert!(matches!(ok("<html>"), Err(TokenError::Unavailable(_))));
        let empty = ok(r#"{"access_token":""}"#);
        assert!(matches!(empty, Err(TokenError::Unavailable(_))));
    }

    #[test]
    fn error_responses() {
        let body = br#"{"error":"invalid_grant","error_description":"revoked"}"#;
        assert_eq!(
            parse(StatusCode::BAD_REQUEST, body).map(|_| ()),
            Err(TokenError::Rejected(
                "token refresh rejected: 400 invalid_grant: revoked".into()
            ))
        );
        assert_eq!(
            parse(StatusCode::UNAUTHORIZED, b"nope").map(|_| ()),
            Err(TokenError::Rejected("token refresh rejected: 401".into()))
        );
        assert_eq!(
            parse(StatusCode::BAD_GATEWAY, b"").map(|_| ()),
            Err(TokenError::Unavailable(
                "token endpoint answered 502".into()
            ))
        );
    }
}
