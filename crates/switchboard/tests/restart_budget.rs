//! A gateway process restarted on the same SQLite file, with the in-memory limiter, still
//! knows what each key has spent in the current budget period: the counters are seeded
//! from the stored usage at start.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::MockProvider;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn switchboard(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SWITCHBOARD_LOG", "warn")
        .current_dir(dir);
    cmd
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

impl Served {
    /// SIGTERM, then wait for a clean exit (the usage writer drains on the way out).
    async fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert_eq!(status.code(), Some(0));
                return;
            }
            assert!(std::time::Instant::now() < deadline, "did not exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn serve(dir: &Path) -> Served {
    let mut child = switchboard(dir)
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

fn admin(dir: &Path, args: &[&str]) -> String {
    let out = switchboard(dir).arg("admin").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn call(url: &str, key: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(
            &json!({ "model": "mock/metered", "messages": [{ "role": "user", "content": "hi" }] }),
        )
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn a_restarted_process_still_counts_the_days_spending() {
    let mock = MockProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    // 1 micro-dollar per input token, 2 per output token: the mock answers "hi" with
    // "echo: hi" (1 token in, 2 out), 5 micro-dollars a call.
    std::fs::write(
        dir.path().join("switchboard.toml"),
        format!(
            "[providers.mock]\nbase_url = \"{}\"\nauth = \"none\"\n\
             [providers.mock.models.\"metered\"]\ninput_price = 1.0\noutput_price = 2.0\n",
            mock.openai_base()
        ),
    )
    .unwrap();
    admin(dir.path(), &["user", "create", "--name", "ada"]);
    // Admitted while spent < budget: two calls spend 10 of 6.
    let key = admin(
        dir.path(),
        &[
            "key", "create", "--user", "ada", "--name", "ci", "--budget", "0.000006", "--period",
            "day",
        ],
    );

    let served = serve(dir.path());
    assert_eq!(call(&served.url, &key).await.0, 200);
    assert_eq!(call(&served.url, &key).await.0, 200);
    let (status, err) = call(&served.url, &key).await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(err["error"]["code"], "budget_exceeded");
    served.stop().await;

    let served = serve(dir.path());
    let (status, err) = call(&served.url, &key).await;
    assert_eq!(
        status, 429,
        "the restarted gateway remembers the day's spending: {err}"
    );
    assert_eq!(err["error"]["code"], "budget_exceeded");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("daily budget"),
        "{err}"
    );
    assert_eq!(mock.calls(), 2, "refused calls never went upstream");
    served.stop().await;
}
