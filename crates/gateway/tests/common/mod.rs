//! Test rig: a real gateway on a real socket in front of the scriptable mock provider.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use gateway::{AppState, Config};
use serde_json::Value;
use testkit::MockProvider;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestGateway {
    pub addr: SocketAddr,
    pub mock: MockProvider,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// The configuration every test starts from: one mock provider, one virtual model.
pub fn base_config(mock_base: &str) -> String {
    format!(
        r#"
[providers.mock]
base_url = "{mock_base}/v1"
auth = "bearer"
keys = ["sk-upstream-1"]
timeouts = {{ first_byte = "5s", idle = "5s", total = "20s" }}
[providers.mock.models."gpt-4o-mini"]
context_window = 128000
input_price = 0.15
output_price = 0.6

[models.fast]
target = "mock/gpt-4o-mini"
params = {{ temperature = 0.25 }}
description = "the fast one"
"#
    )
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::with(|_| String::new()).await
    }

    /// Starts with the base configuration plus `extra` (given the mock's URL).
    pub async fn with(extra: impl FnOnce(&str) -> String) -> Self {
        let mock = MockProvider::start().await;
        let toml = format!("{}\n{}", base_config(&mock.url()), extra(&mock.url()));
        Self::from_toml(mock, &toml).await
    }

    /// Starts with exactly this configuration (the mock is still started, for `{mock}` use).
    pub async fn from_toml(mock: MockProvider, toml: &str) -> Self {
        Self::with_services(mock, toml, gateway::state::Services::default()).await
    }

    /// The base configuration plus `extra`, with the given keys, limiter and usage sink.
    pub async fn with_services(
        mock: MockProvider,
        toml: &str,
        services: gateway::state::Services,
    ) -> Self {
        let config = Config::from_toml(toml, &|_| None).expect("test config is valid");
        let state = AppState::with_services(config, services).expect("client builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            mock,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// Asks the server to stop and waits until it has.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap(),
            None => Ok(()),
        }
    }

    pub fn begin_shutdown(&mut self) -> JoinHandle<std::io::Result<()>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().unwrap()
    }
}

pub fn chat(model: &str, text: &str) -> Value {
    serde_json::json!({ "model": model, "messages": [{ "role": "user", "content": text }] })
}

/// Reads a whole SSE response and returns the `data` of each event, in order.
pub async fn sse_data(resp: reqwest::Response) -> Vec<String> {
    let bytes = resp.bytes().await.unwrap();
    let mut dec = wire::sse::SseDecoder::new();
    dec.push(&bytes);
    let mut out = Vec::new();
    while let Some(ev) = dec.next_event().unwrap() {
        if !ev.is_comment() {
            out.push(ev.data);
        }
    }
    if let Some(ev) = dec.finish().unwrap() {
        out.push(ev.data);
    }
    out
}

/// The JSON chunks of an SSE response (everything but `[DONE]`).
pub fn json_events(data: &[String]) -> Vec<Value> {
    data.iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}
