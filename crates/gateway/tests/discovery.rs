//! Model discovery over real sockets: the mock provider's `GET /v1/models`, a stub upstream
//! with context-length fields, and providers that refuse or never answer.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use gateway::providers::discovery::Discovery;
use gateway::providers::{AuthStyle, Origin, Provider, Timeouts};
use gateway::secret::Secret;
use http::{HeaderName, HeaderValue};
use testkit::MockProvider;
use tokio::net::TcpListener;
use tokio::time::Instant;
use wire::WireFormat;

fn provider(id: &str, base_url: &str) -> Arc<Provider> {
    Arc::new(Provider::new(
        id.into(),
        id.into(),
        WireFormat::OpenAi,
        base_url.into(),
        AuthStyle::Bearer,
        gateway::providers::credentials::CredentialPool::from_keys(vec![Secret::new(
            "sk-upstream",
        )]),
        vec![(
            HeaderName::from_static("x-extra"),
            HeaderValue::from_static("yes"),
        )],
        Timeouts::default(),
        BTreeMap::new(),
        Origin::Config,
    ))
}

/// A base URL on which nothing listens: connections are refused at once.
async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

/// A stub upstream answering `GET /v1/models` with `status` and `body`, counting calls.
async fn stub(status: StatusCode, body: &'static str) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let app = Router::new().route(
        "/v1/models",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { (status, [("content-type", "application/json")], body) }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), calls)
}

#[tokio::test]
async fn lists_the_mock_models_with_the_provider_credential() {
    let mock = MockProvider::start().await;
    let http = reqwest::Client::new();
    let discovery = Discovery::default();
    let p = provider("mock", &mock.openai_base());

    let models = discovery.models(&http, &p).await.unwrap();
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "gpt-4o",
            "gpt-4o-mini",
            "text-embedding-3-small",
            "mock-model"
        ]
    );
    assert_eq!(models[0].owned_by.as_deref(), Some("switchboard-mock"));
    assert!(models[0].created.is_some());
    assert_eq!(models[0].context_window, None);

    let request = mock.last_request().unwrap();
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(request.header("authorization"), Some("Bearer sk-upstream"));
    assert_eq!(request.header("x-extra"), Some("yes"));

    // Cached: neither a second call nor `cached` goes upstream.
    let again = discovery.models(&http, &p).await.unwrap();
    assert!(Arc::ptr_eq(&models, &again));
    assert!(Arc::ptr_eq(&models, &discovery.cached("mock").unwrap()));
    assert_eq!(mock.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_listings_make_one_upstream_call() {
    let mock = MockProvider::start().await;
    let http = reqwest::Client::new();
    let discovery = Discovery::default();
    let p = provider("mock", &mock.openai_base());
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (discovery, http, p) = (discovery.clone(), http.clone(), Arc::clone(&p));
            tokio::spawn(async move { discovery.models(&http, &p).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().len(), 4);
    }
    assert_eq!(mock.calls(), 1);
}

#[tokio::test]
async fn reads_context_windows_from_the_upstream_list() {
    let (base, calls) = stub(
        StatusCode::OK,
        r#"{"data":[
            {"id":"meta-llama/llama-3.3-70b-instruct","context_length":131072,
             "top_provider":{"context_length":65536,"max_completion_tokens":16384}},
            {"id":"llama-3.1-8b-instant","context_window":131072,"max_completion_tokens":131072},
            {"id":"served/qwen","max_model_len":32768}]}"#,
    )
    .await;
    let http = reqwest::Client::new();
    let models = Discovery::default()
        .models(&http, &provider("router", &base))
        .await
        .unwrap();
    let limits: Vec<_> = models
        .iter()
        .map(|m| (m.id.as_str(), m.context_window, m.max_output_tokens))
        .collect();
    assert_eq!(
        limits,
        [
            (
                "meta-llama/llama-3.3-70b-instruct",
                Some(131_072),
                Some(16_384)
            ),
            ("llama-3.1-8b-instant", Some(131_072), Some(131_072)),
            ("served/qwen", Some(32_768), None),
        ]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_upstream_error_is_a_short_reason_and_is_not_retried_at_once() {
    let (base, calls) = stub(
        StatusCode::UNAUTHORIZED,
        r#"{"error":{"message":"Invalid API key","type":"invalid_request_error"}}"#,
    )
    .await;
    let http = reqwest::Client::new();
    let discovery = Discovery::default();
    let p = provider("locked", &base);
    assert_eq!(
        discovery.models(&http, &p).await.unwrap_err(),
        "HTTP 401: Invalid API key"
    );
    assert!(discovery.models(&http, &p).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the failure is cached");
    assert!(discovery.cached("locked").is_none());
}

#[tokio::test]
async fn a_closed_port_fails_fast() {
    let http = reqwest::Client::new();
    let discovery = Discovery::default();
    let started = Instant::now();
    let err = discovery
        .models(&http, &provider("dead", &closed_port().await))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

#[tokio::test]
async fn dead_and_silent_providers_do_not_hold_up_the_listing() {
    let mock = MockProvider::start().await;
    // Accepts connections (the kernel's backlog does) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let providers = [
        provider("mock", &mock.openai_base()),
        provider("dead", &closed_port().await),
        provider(
            "silent",
            &format!("http://{}/v1", silent.local_addr().unwrap()),
        ),
    ];
    let http = reqwest::Client::new();
    let fetch_timeout = Duration::from_millis(500);
    let discovery = Discovery::new(Duration::from_secs(600), fetch_timeout);

    let started = Instant::now();
    let lists = discovery.all(&http, &providers).await;
    let waited = started.elapsed();
    assert!(waited >= fetch_timeout, "{waited:?}");
    assert!(
        waited < fetch_timeout + Duration::from_secs(1),
        "{waited:?}"
    );
    assert_eq!(lists.keys().collect::<Vec<_>>(), ["mock"]);
    assert_eq!(lists["mock"].len(), 4);

    // Both failures are remembered: the next listing is answered at once.
    let started = Instant::now();
    let lists = discovery.all(&http, &providers).await;
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(lists.len(), 1);
    assert_eq!(mock.calls(), 1);
}
