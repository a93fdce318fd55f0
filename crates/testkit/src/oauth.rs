//! An OAuth2 token endpoint (the refresh-token grant of RFC 6749 §6) and an optional bearer
//! check on the API routes, so tests can drive credential refresh end to end.
//!
//! - `POST /oauth/token` takes a form body `grant_type=refresh_token&refresh_token=…`
//!   (`client_id`, `client_secret` and `scope` are accepted and kept for
//!   [`MockProvider::last_oauth_form`](crate::MockProvider::last_oauth_form), not checked).
//!   It answers `{"access_token":"tok-N","token_type":"Bearer","expires_in":E}`, N counting
//!   from 1, plus `"refresh_token":"refresh-N"` when rotating — after which only the new
//!   refresh token is accepted. A wrong refresh token gets 400 `{"error":"invalid_grant"}`,
//!   another grant type 400 `unsupported_grant_type`, a body without one 400
//!   `invalid_request` (RFC 6749 §5.2). Not an API call: counted by `oauth_refreshes`,
//!   never by `calls`.
//! - The bearer check ([`RequiredBearer`]) runs before every API route. A request without
//!   the required `Authorization: Bearer` gets an OpenAI-style 401; it is recorded and
//!   counted as a call (the upstream did receive it) but consumes no scripted reply.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::json;

use crate::server::{BODY_LIMIT, Shared};

/// Default `expires_in` of issued tokens, in seconds.
pub(crate) const DEFAULT_EXPIRES_IN: u64 = 3600;

/// The refresh token the endpoint accepts until it rotates one.
pub(crate) const INITIAL_REFRESH_TOKEN: &str = "refresh-0";

/// Which bearer token the API routes accept (see
/// [`MockProvider::require_bearer`](crate::MockProvider::require_bearer)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequiredBearer {
    /// Exactly this token.
    Token(String),
    /// The access token `/oauth/token` issued last; before the first one, nothing passes.
    CurrentOAuth,
}

/// The token endpoint's state, reset by `MockProvider::reset`.
pub(crate) struct OAuth {
    state: Mutex<OAuthState>,
}

struct OAuthState {
    expires_in: u64,
    rotate: bool,
    refresh_token: String,
    /// Access tokens issued so far; the last one is `tok-{issued}`.
    issued: u64,
    requests: usize,
    last_form: Option<BTreeMap<String, String>>,
    required: Option<RequiredBearer>,
}

impl Default for OAuthState {
    fn default() -> Self {
        Self {
            expires_in: DEFAULT_EXPIRES_IN,
            rotate: false,
            refresh_token: INITIAL_REFRESH_TOKEN.to_owned(),
            issued: 0,
            requests: 0,
            last_form: None,
            required: None,
        }
    }
}

impl OAuth {
    pub(crate) fn new() -> OAuth {
        OAuth {
            state: Mutex::new(OAuthState::default()),
        }
    }

    pub(crate) fn configure(&self, expires_in: u64, rotate: bool) {
        let mut state = self.state.lock();
        state.expires_in = expires_in;
        state.rotate = rotate;
    }

    pub(crate) fn require(&self, required: Option<RequiredBearer>) {
        self.state.lock().required = required;
    }

    pub(crate) fn requests(&self) -> usize {
        self.state.lock().requests
    }

    pub(crate) fn refresh_token(&self) -> String {
        self.state.lock().refresh_token.clone()
    }

    pub(crate) fn current_token(&self) -> Option<String> {
        let issued = self.state.lock().issued;
        (issued > 0).then(|| format!("tok-{issued}"))
    }

    pub(crate) fn last_form(&self) -> Option<BTreeMap<String, String>> {
        self.state.lock().last_form.clone()
    }

    pub(crate) fn reset(&self) {
        *self.state.lock() = OAuthState::default();
    }

    fn accepts(&self, presented: Option<&str>) -> bool {
        let state = self.state.lock();
        match &state.required {
            None => true,
            Some(RequiredBearer::Token(token)) => presented == Some(token.as_str()),
            Some(RequiredBearer::CurrentOAuth) => {
                state.issued > 0 && presented == Some(format!("tok-{}", state.issued).as_str())
            }
        }
    }

    /// Answers one token request (RFC 6749 §5.1 on success, §5.2 on error).
    fn grant(&self, form: BTreeMap<String, String>) -> Response {
        let mut state = self.state.lock();
        state.requests += 1;
        let grant_type = form.get("grant_type").cloned();
        let presented = form.get("refresh_token").cloned();
        state.last_form = Some(form);
        match (grant_type.as_deref(), presented) {
            (Some("refresh_token"), Some(token)) if token == state.refresh_token => {}
            (Some("refresh_token"), Some(_)) => return token_error("invalid_grant"),
            (Some("refresh_token"), None) | (None, _) => return token_error("invalid_request"),
            (Some(_), _) => return token_error("unsupported_grant_type"),
        }
        state.issued += 1;
        let mut body = json!({
            "access_token": format!("tok-{}", state.issued),
            "token_type": "Bearer",
            "expires_in": state.expires_in,
        });
        if state.rotate {
            state.refresh_token = format!("refresh-{}", state.issued);
            body["refresh_token"] = state.refresh_token.clone().into();
        }
        let mut response = Json(body).into_response();
        // RFC 6749 §5.1: token responses must not be cached.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/oauth/token", post(token))
}

async fn token(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    match form {
        Ok(Form(form)) => shared.oauth.grant(form),
        Err(_) => {
            shared.oauth.state.lock().requests += 1;
            token_error("invalid_request")
        }
    }
}

fn token_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response()
}

/// Middleware on the API routes: lets through requests carrying the required bearer.
pub(crate) async fn check_bearer(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if shared.oauth.accepts(presented) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .unwrap_or_default();
    shared.recorder.record(&parts, &body);
    let error = json!({"error": {
        "message": "Incorrect API key provided.",
        "type": "invalid_request_error",
        "param": null,
        "code": "invalid_api_key",
    }});
    (StatusCode::UNAUTHORIZED, Json(error)).into_response()
}
