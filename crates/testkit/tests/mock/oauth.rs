//! The OAuth2 token endpoint and the bearer check on the API routes.

use serde_json::{Value, json};
use testkit::{MockProvider, Reply, RequiredBearer};

use crate::support::{chat_body, client};

/// POSTs a form body (already encoded) to `/oauth/token`.
async fn token(mock: &MockProvider, form: &str) -> (u16, Value) {
    let response = client()
        .post(format!("{}/oauth/token", mock.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn chat_with(mock: &MockProvider, bearer: Option<&str>) -> (u16, Value) {
    let mut request = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat_body("hi"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn issues_numbered_tokens_for_the_refresh_token() {
    let mock = MockProvider::start().await;
    mock.set_oauth(120, false);
    let form = "grant_type=refresh_token&refresh_token=refresh-0&client_id=app&scope=a+b";
    let (status, body) = token(&mock, form).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"access_token": "tok-1", "token_type": "Bearer", "expires_in": 120})
    );
    let (_, body) = token(&mock, form).await;
    assert_eq!(body["access_token"], "tok-2");
    assert_eq!(mock.oauth_access_token().as_deref(), Some("tok-2"));
    let sent = mock.last_oauth_form().unwrap();
    assert_eq!(sent["client_id"], "app");
    assert_eq!(sent["scope"], "a b");
    assert_eq!(mock.oauth_refreshes(), 2);
    assert_eq!(mock.calls(), 0, "token requests are not API calls");
}

#[tokio::test]
async fn rotation_retires_the_old_refresh_token() {
    let mock = MockProvider::start().await;
    mock.set_oauth(3600, true);
    let (status, body) = token(&mock, "grant_type=refresh_token&refresh_token=refresh-0").await;
    assert_eq!(status, 200);
    assert_eq!(body["refresh_token"], "refresh-1");
    assert_eq!(mock.oauth_refresh_token(), "refresh-1");
    let (status, body) = token(&mock, "grant_type=refresh_token&refresh_token=refresh-0").await;
    assert_eq!((status, body), (400, json!({"error": "invalid_grant"})));
    let (status, _) = token(&mock, "grant_type=refresh_token&refresh_token=refresh-1").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn malformed_token_requests_get_rfc_errors() {
    let mock = MockProvider::start().await;
    let (status, body) = token(&mock, "grant_type=password&username=u").await;
    assert_eq!(
        (status, body),
        (400, json!({"error": "unsupported_grant_type"}))
    );
    let (status, body) = token(&mock, "grant_type=refresh_token").await;
    assert_eq!((status, body), (400, json!({"error": "invalid_request"})));
    assert_eq!(mock.oauth_refreshes(), 2);
    assert_eq!(mock.oauth_access_token(), None);
}

#[tokio::test]
async fn bearer_check_accepts_only_the_current_token() {
    let mock = MockProvider::start().await;
    assert_eq!(chat_with(&mock, None).await.0, 200, "no check by default");
    mock.require_bearer(Some(RequiredBearer::CurrentOAuth));
    mock.push(Reply::text("scripted"));
    let (status, body) = chat_with(&mock, Some("tok-1")).await;
    assert_eq!(status, 401, "nothing issued yet");
    assert_eq!(body["error"]["code"], "invalid_api_key");

    token(&mock, "grant_type=refresh_token&refresh_token=refresh-0").await;
    token(&mock, "grant_type=refresh_token&refresh_token=refresh-0").await;
    assert_eq!(chat_with(&mock, Some("tok-1")).await.0, 401, "superseded");
    let (status, body) = chat_with(&mock, Some("tok-2")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["choices"][0]["message"]["content"], "scripted",
        "rejected calls consume no scripted reply"
    );
    assert_eq!(mock.calls(), 4, "rejected calls are counted");
    assert_eq!(
        mock.requests()[1].header("authorization"),
        Some("Bearer tok-1")
    );

    mock.require_bearer(Some(RequiredBearer::Token("fixed".into())));
    assert_eq!(chat_with(&mock, Some("tok-2")).await.0, 401);
    assert_eq!(chat_with(&mock, Some("fixed")).await.0, 200);

    mock.reset();
    assert_eq!(chat_with(&mock, None).await.0, 200, "reset drops the check");
    assert_eq!(mock.oauth_refreshes(), 0);
    assert_eq!(mock.oauth_refresh_token(), "refresh-0");
}
