//! Admin authentication: the admin password (an argon2 hash in the store's settings), the
//! login route that trades it for a JWT, CLI-minted tokens, and the layer that guards every
//! other admin route.
//!
//! Tokens are HS256 JWTs (`iss = "switchboard"`, `aud = "switchboard-admin"`, `sub =
//! "admin"`, `exp`, `jti`). The signing key is `HMAC-SHA-256(hash key, label)` from the
//! store's [`SecretBox`] — derived from the stable hash half of the server secret, so tokens
//! survive restarts and encryption-key rotation, and every instance sharing the secret
//! accepts the others' tokens. A server without a secret box signs with a random key made
//! once per process (tokens die with the process); it has no store to administer anyway.
//!
//! Tokens cannot be revoked one by one: changing the server's hash secret invalidates all
//! of them. Changing the admin password does not end sessions already open.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use axum::Json;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use store::{Secret, SecretBox, Store, now_millis};
use utoipa::ToSchema;

use super::error::{AdminError, ErrorBody};
use super::extract::{self, Body};
use crate::state::AppState;

/// The environment variable holding the admin password.
pub const ADMIN_PASSWORD_ENV: &str = "SWITCHBOARD_ADMIN_PASSWORD";
/// How long a token from `POST /login` is valid.
pub const LOGIN_TTL: Duration = Duration::from_secs(12 * 3600);
/// Shortest admin password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

const PASSWORD_SETTING: &str = "admin.password_hash";
const GENERATED_PASSWORD_LEN: usize = 24; // 24 × log2(62) ≈ 143 bits
const JWT_KEY_LABEL: &str = "switchboard admin token signing key v1";
const ISSUER: &str = "switchboard";
const AUDIENCE: &str = "switchboard-admin";
const SUBJECT: &str = "admin";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    iat: u64,
    exp: u64,
    jti: String,
    /// `login` or `cli`: who minted it.
    kind: String,
}

/// The key tokens are signed with (see the module docs).
fn signing_key(secrets: Option<&SecretBox>) -> Secret<[u8; 32]> {
    static PROCESS_KEY: OnceLock<[u8; 32]> = OnceLock::new();
    match secrets {
        Some(secrets) => Secret::new(secrets.key_hash(JWT_KEY_LABEL)),
        None => Secret::new(*PROCESS_KEY.get_or_init(rand::random)),
    }
}

fn mint(secrets: Option<&SecretBox>, ttl: Duration, kind: &str) -> Result<String, AdminError> {
    let now = u64::try_from(now_millis() / 1000).unwrap_or(0);
    let claims = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: SUBJECT.into(),
        iat: now,
        exp: now.saturating_add(ttl.as_secs()),
        jti: uuid::Uuid::now_v7().to_string(),
        kind: kind.into(),
    };
    let key = signing_key(secrets);
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.expose()),
    )
    .map_err(|err| AdminError::internal("signing the admin token", err))
}

/// An admin token for the CLI (`switchboard admin token create`): the same JWT as a login
/// gives, valid for `ttl`.
pub fn mint_admin_token(secrets: &SecretBox, ttl: Duration) -> Result<String, AdminError> {
    mint(Some(secrets), ttl, "cli")
}

/// Checks a token's signature, issuer, audience and expiry.
pub fn verify_admin_token(secrets: Option<&SecretBox>, token: &str) -> Result<(), AdminError> {
    let key = signing_key(secrets);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(key.expose()), &validation)
        .map(drop)
        .map_err(|err| {
            let reason = match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the token has expired",
                _ => "the token is not a valid admin token",
            };
            AdminError::unauthorized("invalid_token", format!("{reason}: log in again"))
        })
}

/// Hashes a password with argon2id (default parameters) off the async workers.
async fn hash_password(password: Secret<String>) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|err| AdminError::internal("hashing the admin password", err))?
    .map_err(|err| AdminError::internal("hashing the admin password", err))
}

/// Whether `password` matches the stored PHC string, checked off the async workers.
async fn password_matches(password: Secret<String>, hash: String) -> Result<bool, AdminError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default().verify_password(password.expose().as_bytes(), hash.as_str())
    })
    .await
    .map_err(|err| AdminError::internal("checking the admin password", err))
    .map(|verdict| verdict.is_ok())
}

/// Sets the admin password (stored as an argon2 hash), replacing any previous one.
pub async fn set_admin_password(store: &Store, password: &str) -> Result<(), AdminError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AdminError::bad_request(
            "weak_password",
            format!("the admin password needs at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    let hash = hash_password(Secret::new(password.to_owned())).await?;
    store.put_setting(PASSWORD_SETTING, &hash).await?;
    Ok(())
}

/// Makes sure an admin password exists, at start-up. With `SWITCHBOARD_ADMIN_PASSWORD` set,
/// that password is stored (unless it already is). Without it, a stored password is kept;
/// failing that, one is generated and returned — print it once: it is not shown again.
pub async fn ensure_admin_password(store: &Store) -> Result<Option<Secret<String>>, AdminError> {
    let from_env = std::env::var(ADMIN_PASSWORD_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret::new);
    ensure_admin_password_from(store, from_env).await
}

/// [`ensure_admin_password`] with the configured password passed in.
pub async fn ensure_admin_password_from(
    store: &Store,
    configured: Option<Secret<String>>,
) -> Result<Option<Secret<String>>, AdminError> {
    let stored = store.get_setting(PASSWORD_SETTING).await?;
    if let Some(password) = configured {
        let unchanged = match stored {
            Some(hash) => password_matches(password.clone(), hash).await?,
            None => false,
        };
        if !unchanged {
            set_admin_password(store, password.expose()).await?;
        }
        return Ok(None);
    }
    if stored.is_some() {
        return Ok(None);
    }
    let generated: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(GENERATED_PASSWORD_LEN)
        .map(char::from)
        .collect();
    let generated = Secret::new(generated);
    let hash = hash_password(generated.clone()).await?;
    // Two instances starting at once: only the first one's password is kept (and printed).
    let kept = store.insert_setting(PASSWORD_SETTING, &hash).await?;
    Ok(kept.then_some(generated))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(value_type = String, format = Password)]
    pub password: Secret<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>` on every other admin route.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Trades the admin password for a token valid for 12 hours.
#[utoipa::path(
    post, operation_id = "login", path = "/login", tag = "auth", security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "wrong password", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    Body(request): Body<LoginRequest>,
) -> Result<Json<LoginResponse>, AdminError> {
    let store = extract::store(&state)?;
    let Some(hash) = store.get_setting(PASSWORD_SETTING).await? else {
        return Err(AdminError::unauthorized(
            "no_admin_password",
            "no admin password is set: set SWITCHBOARD_ADMIN_PASSWORD and restart",
        ));
    };
    if !password_matches(request.password, hash).await? {
        return Err(AdminError::unauthorized(
            "invalid_password",
            "wrong admin password",
        ));
    }
    let token = mint(state.services().secrets.as_ref(), LOGIN_TTL, "login")?;
    Ok(Json(LoginResponse {
        token,
        token_type: "Bearer",
        expires_in: LOGIN_TTL.as_secs(),
    }))
}

/// The bearer token of a request, if it carries one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The layer in front of every admin route but login and the OpenAPI document.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer(request.headers()) else {
        return AdminError::new(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "admin routes need `Authorization: Bearer <token>`: log in at POST /admin/api/v1/login",
        )
        .into_response();
    };
    match verify_admin_token(state.services().secrets.as_ref(), token) {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use store::SecretKey;

    use super::*;

    fn boxed() -> SecretBox {
        SecretBox::new(&SecretKey::generate(), &SecretKey::generate()).unwrap()
    }

    #[test]
    fn tokens_verify_under_their_own_key_only() {
        let secrets = boxed();
        let token = mint_admin_token(&secrets, Duration::from_secs(60)).unwrap();
        verify_admin_token(Some(&secrets), &token).unwrap();
        // Rotating the encryption key keeps the hash key, and so the tokens.
        let rotated = secrets.with_encryption_key(&SecretKey::generate());
        verify_admin_token(Some(&rotated), &token).unwrap();
        let other = verify_admin_token(Some(&boxed()), &token).unwrap_err();
        assert_eq!(other.status, StatusCode::UNAUTHORIZED);
        assert!(verify_admin_token(None, &token).is_err());
        assert!(verify_admin_token(Some(&secrets), "not.a.jwt").is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let secrets = boxed();
        let key = signing_key(Some(&secrets));
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: SUBJECT.into(),
            iat: 1,
            exp: 2,
            jti: "x".into(),
            kind: "cli".into(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(key.expose()),
        )
        .unwrap();
        let err = verify_admin_token(Some(&secrets), &token).unwrap_err();
        assert!(err.message.contains("expired"), "{}", err.message);
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }

    #[tokio::test]
    async fn the_password_is_generated_once_then_configured_ones_replace_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_default(dir.path()).await.unwrap();
        store.migrate().await.unwrap();
        let generated = ensure_admin_password_from(&store, None).await.unwrap();
        let generated = generated.unwrap();
        assert_eq!(generated.expose().len(), GENERATED_PASSWORD_LEN);
        assert!(
            ensure_admin_password_from(&store, None)
                .await
                .unwrap()
                .is_none()
        );
        let hash = store.get_setting(PASSWORD_SETTING).await.unwrap().unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains(generated.expose().as_str()));
        assert!(password_matches(generated.clone(), hash).await.unwrap());

        let configured = Secret::new("correct horse battery".to_owned());
        assert!(
            ensure_admin_password_from(&store, Some(configured.clone()))
                .await
                .unwrap()
                .is_none()
        );
        let hash = store.get_setting(PASSWORD_SETTING).await.unwrap().unwrap();
        assert!(password_matches(configured, hash.clone()).await.unwrap());
        assert!(!password_matches(generated, hash).await.unwrap());
        assert!(set_admin_password(&store, "short").await.is_err());
    }
}
