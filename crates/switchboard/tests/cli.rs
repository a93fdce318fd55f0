//! The binary itself: `config check`, provider detection from the environment, start-up
//! banner, and exit 0 on SIGTERM — each run as a real process.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::MockProvider;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// A command with a clean environment: no provider keys from the machine leak in.
fn switchboard(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SWITCHBOARD_LOG", "warn")
        .current_dir(dir);
    cmd
}

fn check(dir: &Path, toml: &str) -> Output {
    let file = dir.join("switchboard.toml");
    std::fs::write(&file, toml).unwrap();
    switchboard(dir)
        .args(["config", "check", "--config"])
        .arg(&file)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn config_check_names_the_wrong_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[providers.x]\nbase_ur = \"http://a\"\n", "providers.x"),
        ("[providers.x]\nbase_ur = \"http://a\"\n", "base_ur"),
        (
            "[providers.x]\nbase_url = \"http://a\"\nauth = \"none\"\ntimeouts = { idle = \"soon\" }\n",
            "providers.x.timeouts.idle",
        ),
        (
            "[providers.x]\nbase_url = \"not a url\"\nauth = \"none\"\n",
            "providers.x.base_url",
        ),
        (
            "[providers.x]\nbase_url = \"http://a\"\nauth = \"magic\"\n",
            "providers.x.auth",
        ),
        (
            "[providers.x]\nbase_url = \"http://a\"\n",
            "providers.x.keys",
        ),
        (
            "[providers.x]\nbase_url = \"http://a\"\nkeys = [\"env:NOT_SET_ANYWHERE\"]\n",
            "providers.x.keys[0]",
        ),
        (
            "[providers.x]\nbase_url = \"http://a\"\nauth = \"none\"\nwire_format = \"telepathy\"\n",
            "providers.x.wire_format",
        ),
        (
            "[models.fast]\ntarget = \"nobody/m\"\n",
            "models.fast.target",
        ),
        ("[server]\nlisten = \"here\"\n", "server.listen"),
        (
            "[server]\nmax_body_size = \"12 parsecs\"\n",
            "server.max_body_size",
        ),
        ("[[[", "line 1"),
    ];
    for (toml, needle) in cases {
        let out = check(dir.path(), toml);
        assert!(!out.status.success(), "accepted: {toml}");
        assert!(
            stderr(&out).contains(needle),
            "for {toml:?} expected {needle:?} in: {}",
            stderr(&out)
        );
    }
    let missing = switchboard(dir.path())
        .args(["config", "check", "--config", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("/nonexistent.toml"));
}

#[test]
fn config_check_accepts_a_good_file_and_reports_env_detected_providers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("switchboard.toml"),
        "[providers.local]\nbase_url = \"http://127.0.0.1:1/v1\"\nauth = \"none\"\n[models.fast]\ntarget = \"local/m\"\n",
    )
    .unwrap();
    let out = switchboard(dir.path())
        .args(["config", "check"])
        .env("GROQ_API_KEY", "gsk-test")
        .env("DEEPSEEK_API_KEY", "sk-test")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("configuration OK"), "{stdout}");
    assert!(
        stdout.contains("groq") && stdout.contains("from GROQ_API_KEY"),
        "{stdout}"
    );
    assert!(
        stdout.contains("deepseek") && stdout.contains("from DEEPSEEK_API_KEY"),
        "{stdout}"
    );
    assert!(
        stdout.contains("local") && stdout.contains("fast"),
        "{stdout}"
    );
    assert!(!stdout.contains("gsk-test"), "keys are never printed");
}

struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `switchboard serve` on a free port and waits for its "listening" line.
fn serve(mut cmd: Command) -> Served {
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("switchboard listening on ") {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the gateway printed where it listens");
    Served { child, url }
}

#[tokio::test]
async fn env_key_enables_a_catalog_provider_and_is_sent_upstream() {
    let mock = MockProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = switchboard(dir.path());
    cmd.env("GROQ_API_KEY", "gsk-from-env")
        .env("SWITCHBOARD_PROVIDERS__GROQ__BASE_URL", mock.openai_base());
    let served = serve(cmd);
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&json!({ "model": "groq/llama-3.3-70b-versatile", "messages": [{ "role": "user", "content": "hi" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["model"], "groq/llama-3.3-70b-versatile");
    let sent = mock.last_request().unwrap();
    assert_eq!(sent.header("authorization"), Some("Bearer gsk-from-env"));
    assert_eq!(sent.json().unwrap()["model"], "llama-3.3-70b-versatile");

    let models: Value = http
        .get(format!("{}/v1/models", served.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"groq/llama-3.3-70b-versatile"), "{ids:?}");
}

#[tokio::test]
async fn sigterm_lets_the_stream_in_flight_finish_and_exits_zero() {
    let mock = MockProvider::start().await;
    mock.push(testkit::Reply::Stream {
        chunks: (0..10).map(|i| format!("w{i} ")).collect(),
        delay_ms: 100,
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("switchboard.toml"),
        format!(
            "[providers.mock]\nbase_url = \"{}\"\nauth = \"none\"\n",
            mock.openai_base()
        ),
    )
    .unwrap();
    let mut served = serve(switchboard(dir.path()));
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&json!({ "model": "mock/m", "stream": true, "messages": [{ "role": "user", "content": "hi" }] }))
        .send()
        .await
        .unwrap();
    let pid = served.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let text = String::from_utf8(resp.bytes().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains("w9") && text.trim_end().ends_with("[DONE]"),
        "{text}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn refuses_to_serve_openly_on_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = switchboard(dir.path())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("auth.keys"), "{}", stderr(&out));
}

#[test]
fn starts_with_no_config_file_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(switchboard(dir.path()));
    assert!(served.url.starts_with("http://127.0.0.1:"));
}

fn admin(dir: &Path, args: &[&str]) -> Output {
    switchboard(dir).arg("admin").args(args).output().unwrap()
}

#[tokio::test]
async fn keys_created_with_the_cli_are_required_and_honoured_and_revocation_takes_effect() {
    let mock = MockProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("switchboard.toml"),
        format!(
            "[providers.mock]\nbase_url = \"{}\"\nauth = \"none\"\n",
            mock.openai_base()
        ),
    )
    .unwrap();
    let user = admin(
        dir.path(),
        &[
            "user",
            "create",
            "--name",
            "ada",
            "--email",
            "ada@example.com",
        ],
    );
    assert!(user.status.success(), "{}", stderr(&user));
    let created = admin(
        dir.path(),
        &[
            "key",
            "create",
            "--user",
            "ada@example.com",
            "--name",
            "ci",
            "--rpm",
            "2",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("sk-sb-") && key.len() > 30, "{key}");
    let listed = admin(dir.path(), &["key", "list"]);
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listing.contains("sk-sb-") && !listing.contains(&key),
        "the key is never shown again: {listing}"
    );
    let key_id = listing.split_whitespace().next().unwrap().to_owned();
    assert!(
        dir.path().join(".switchboard/secret.key").exists(),
        "the key file was generated in the data dir"
    );

    let served = serve(switchboard(dir.path()));
    let http = reqwest::Client::new();
    let call = |key: Option<String>| {
        let req = http
            .post(format!("{}/v1/chat/completions", served.url))
            .json(&json!({ "model": "mock/m", "messages": [{ "role": "user", "content": "hi" }] }));
        async move {
            req.bearer_auth(key.unwrap_or_default())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        call(None).await,
        401,
        "a key exists: the gateway is no longer open"
    );
    assert_eq!(call(Some(key.clone())).await, 200);
    assert_eq!(call(Some(key.clone())).await, 200);
    assert_eq!(call(Some(key.clone())).await, 429, "--rpm 2");

    let token = admin(dir.path(), &["token", "create", "--ttl", "1h"]);
    assert!(token.status.success(), "{}", stderr(&token));
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let users = http
        .get(format!("{}/admin/api/v1/users", served.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        users.status(),
        200,
        "a CLI-minted token opens the admin API"
    );
    let users: Value = users.json().await.unwrap();
    assert!(users.to_string().contains("ada@example.com"), "{users}");
    let anonymous = http
        .get(format!("{}/admin/api/v1/users", served.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let revoked = admin(dir.path(), &["key", "revoke", &key_id]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if call(Some(key.clone())).await == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the revocation reached the running gateway"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Deletes every Redis key under `prefix` (the test's own), with the machine's redis-cli.
fn redis_cleanup(url: &str, prefix: &str) {
    let keys = Command::new("redis-cli")
        .args(["-u", url, "--scan", "--pattern", &format!("{prefix}*")])
        .output();
    if let Ok(out) = keys {
        for key in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|k| !k.is_empty())
        {
            let _ = Command::new("redis-cli")
                .args(["-u", url, "del", key])
                .output();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateway_processes_sharing_redis_allow_exactly_the_configured_rate() {
    let Ok(redis_url) = std::env::var("SWITCHBOARD_TEST_REDIS_URL") else {
        eprintln!(
            "SKIPPED two_gateway_processes_sharing_redis: SWITCHBOARD_TEST_REDIS_URL is not set"
        );
        return;
    };
    let mock = MockProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("switchboard.toml"),
        format!(
            "[providers.mock]\nbase_url = \"{}\"\nauth = \"none\"\n",
            mock.openai_base()
        ),
    )
    .unwrap();
    assert!(
        admin(dir.path(), &["user", "create", "--name", "ada"])
            .status
            .success()
    );
    let created = admin(
        dir.path(),
        &["key", "create", "--user", "ada", "--rpm", "100"],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();

    let prefix = format!(
        "sbtest-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let start = || {
        let mut cmd = switchboard(dir.path());
        cmd.env("SWITCHBOARD_REDIS_URL", &redis_url)
            .env("SWITCHBOARD_REDIS_PREFIX", &prefix);
        serve(cmd)
    };
    // Both processes share the SQLite file (the key) and Redis (the limits).
    let (one, two) = (start(), start());
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..600 {
        let url = format!(
            "{}/v1/chat/completions",
            if i % 2 == 0 { &one.url } else { &two.url }
        );
        let (http, key) = (http.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(key)
                .json(&json!({ "model": "mock/m", "messages": [{ "role": "user", "content": "hi" }] }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    redis_cleanup(&redis_url, &prefix);
    assert_eq!(
        ok, 100,
        "exactly the configured rate across both processes ({limited} refused)"
    );
    assert_eq!(limited, 500);
    assert_eq!(mock.calls(), 100);
}

/// Multi-threaded: the CLI runs blocking while the mock answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_provider_add_detect_saves_the_models_and_a_running_gateway_routes_to_it() {
    const KEY: &str = "sk-cli-upstream-key-0123";
    let mock = MockProvider::start().await;
    mock.require_bearer(Some(testkit::RequiredBearer::Token(KEY.into())));
    let dir = tempfile::tempdir().unwrap();
    let served = serve(switchboard(dir.path()));

    let added = switchboard(dir.path())
        .env("UP_KEY", KEY)
        .args(["admin", "provider", "add", "up", "--base-url"])
        .arg(mock.openai_base())
        .args(["--key", "env:UP_KEY", "--detect"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&added.stdout);
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(stdout.contains("found 4 model(s)"), "{stdout}");
    assert!(stdout.contains("mock-model"), "{stdout}");
    let probe = mock.last_request().unwrap();
    assert_eq!(probe.path, "/v1/models");
    assert_eq!(
        probe.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    let listed = admin(dir.path(), &["provider", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains("up "), "{listed}");
    assert!(listed.contains("1 key(s), 4 model(s)"), "{listed}");
    assert!(
        !listed.contains(KEY) && !stdout.contains(KEY),
        "keys are never printed"
    );

    // The running gateway picks the provider up by itself, within seconds.
    let http = reqwest::Client::new();
    let mut status = 0;
    for _ in 0..100 {
        let resp = http
            .post(format!("{}/v1/chat/completions", served.url))
            .json(&json!({ "model": "up/mock-model", "messages": [{ "role": "user", "content": "hi" }] }))
            .send()
            .await
            .unwrap();
        status = resp.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "the stored provider was applied");
    let sent = mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

/// Multi-threaded: the CLI runs blocking while the mock answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_provider_add_detect_that_fails_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let failed = admin(
        dir.path(),
        &[
            "provider",
            "add",
            "dead",
            "--base-url",
            &format!("http://{dead}/v1"),
            "--detect",
        ],
    );
    assert!(!failed.status.success());
    let err = stderr(&failed);
    assert!(
        err.contains("/models failed") && err.contains("nothing was saved"),
        "{err}"
    );

    // An upstream refusing the key is a failure too, with its status.
    let mock = MockProvider::start().await;
    mock.require_bearer(Some(testkit::RequiredBearer::Token("the-right-one".into())));
    let refused = admin(
        dir.path(),
        &[
            "provider",
            "add",
            "wrong",
            "--base-url",
            &mock.openai_base(),
            "--key",
            "sk-wrong",
            "--detect",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("HTTP 401"),
        "{}",
        stderr(&refused)
    );

    let listed = admin(dir.path(), &["provider", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "", "nothing saved");
}
