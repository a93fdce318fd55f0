//! The admin API fixture: a real gateway over a SQLite store in a temp dir, with keys,
//! usage written to the store, an admin password and a logged-in token; every admin
//! response body is kept so tests can check that no secret ever came back.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use gateway::auth::keys::KeyRegistry;
use gateway::state::Services;
use gateway::usage::{StoreSink, UsageWriter, WriterConfig};
use parking_lot::Mutex;
use serde_json::{Value, json};
use store::{SecretBox, SecretKey, Store};
use testkit::MockProvider;

use crate::common::{TestGateway, base_config, chat};

pub const API: &str = "/admin/api/v1";

pub struct Fixture {
    pub gw: TestGateway,
    pub store: Store,
    pub secrets: SecretBox,
    pub password: String,
    pub token: String,
    /// Every admin response body seen, to check that no secret ever comes back.
    seen: Mutex<Vec<String>>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_default(dir.path()).await.unwrap();
        store.migrate().await.unwrap();
        let secrets = SecretBox::new(&SecretKey::generate(), &SecretKey::generate()).unwrap();
        let password = gateway::admin::ensure_admin_password_from(&store, None)
            .await
            .unwrap()
            .expect("a first start generates a password");
        let keys = KeyRegistry::load(store.clone(), secrets.clone())
            .await
            .unwrap();
        let (usage, _task) = UsageWriter::start(
            StoreSink::shared(store.clone()),
            WriterConfig {
                interval: Duration::from_millis(20),
                ..WriterConfig::default()
            },
        );
        let services = Services {
            store: Some(store.clone()),
            secrets: Some(secrets.clone()),
            keys: Some(Arc::new(keys)),
            usage: Some(usage),
            ..Services::default()
        };
        let mock = MockProvider::start().await;
        let toml = base_config(&mock.url());
        let gw = TestGateway::with_services(mock, &toml, services).await;
        let mut f = Self {
            gw,
            store,
            secrets,
            password: password.expose().clone(),
            token: String::new(),
            seen: Mutex::new(Vec::new()),
            _dir: dir,
        };
        let (status, body) = f
            .call_as(
                None,
                "POST",
                "/login",
                Some(json!({ "password": f.password })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        f.token = body["token"].as_str().unwrap().to_owned();
        f
    }

    /// An admin request with the fixture's token; the status and the JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(Some(&self.token), method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = if path.starts_with("/admin/") {
            self.gw.url(path)
        } else {
            self.gw.url(&format!("{API}{path}"))
        };
        let mut req = self
            .gw
            .http
            .request(method.parse().unwrap(), url)
            .timeout(Duration::from_secs(10));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        self.seen.lock().push(text.clone());
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        (status, json)
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub async fn user(&self, name: &str) -> String {
        let (status, body) = self
            .call("POST", "/users", Some(json!({ "name": name })))
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn chat_with(&self, key: Option<&str>) -> reqwest::Response {
        let mut req = self
            .gw
            .http
            .post(self.gw.url("/v1/chat/completions"))
            .json(&chat("fast", "hello there"));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        req.send().await.unwrap()
    }

    /// How many responses seen so far contain `needle`.
    pub fn responses_containing(&self, needle: &str) -> usize {
        self.seen
            .lock()
            .iter()
            .filter(|b| b.contains(needle))
            .count()
    }
}

pub fn assert_error(body: &Value, kind: &str, code: &str) {
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}
