//! `GET /metrics` after real requests through the mock providers: request, token, cost,
//! attempt and fallback counters moved by exactly what happened, histograms counted, a
//! breaker shown open, the usage writer's losses visible, and the endpoint protected by keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{TestGateway, chat};
use gateway::limits::{LimitSpec, Limiter, RedisOptions, Subject};
use gateway::state::Services;
use gateway::usage::{BoxFuture, MemorySink, UsageRecord, UsageSink, UsageWriter, WriterConfig};
use serde_json::json;
use testkit::{MockProvider, MockUsage, Reply};

/// Every sample of an exposition, by its series (`name{labels}`).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(gw: &TestGateway, key: Option<&str>) -> (u16, String, String) {
    let mut req = gw.http.get(gw.url("/metrics"));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, resp.text().await.unwrap())
}

/// Two mock upstreams `a` and `b` (model `m`, priced) behind combo `smart`, a breaker that
/// opens after 2 failures, and usage recorded into `sink`.
async fn two(
    extra: &str,
    usage: WriterConfig,
    sink: Arc<dyn UsageSink>,
) -> (Vec<MockProvider>, TestGateway) {
    let mocks = vec![MockProvider::start().await, MockProvider::start().await];
    let mut toml = String::new();
    for (name, mock) in ["a", "b"].iter().zip(&mocks) {
        toml.push_str(&format!(
            "[providers.{name}]\nbase_url = \"{}\"\nauth = \"none\"\ntimeouts = {{ first_byte = \"2s\", idle = \"2s\", total = \"10s\" }}\n\
             [providers.{name}.models.m]\ninput_price = 1.0\noutput_price = 2.0\ncache_read_price = 0.5\n",
            mock.openai_base()
        ));
    }
    toml.push_str("[routing.breaker]\nconsecutive_failures = 2\n[combos.smart]\ntargets = [\"a/m\", \"b/m\"]\n");
    toml.push_str(extra);
    let (handle, _task) = UsageWriter::start(sink, usage);
    let services = Services {
        usage: Some(handle),
        ..Services::default()
    };
    let gw = TestGateway::with_services(MockProvider::start().await, &toml, services).await;
    (mocks, gw)
}

fn quick_writer() -> WriterConfig {
    WriterConfig {
        interval: Duration::from_millis(20),
        ..WriterConfig::default()
    }
}

#[tokio::test]
async fn counters_follow_the_requests_tokens_fallbacks_and_breakers() {
    let sink = MemorySink::new();
    let (mocks, gw) = two("", quick_writer(), Arc::new(sink.clone())).await;
    let usage = |prompt, completion, cached, reasoning| Reply::Text {
        content: "four words of text".into(),
        usage: Some(MockUsage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            cached_tokens: cached,
            reasoning_tokens: reasoning,
        }),
    };
    // 1: answered by a, not streamed.
    mocks[0].push(usage(10, 7, 4, 2));
    let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap();
    // 2: answered by a, streamed.
    mocks[0].push(usage(5, 3, 0, 0));
    let mut body = chat("smart", "hi");
    body["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap();
    // 3 and 4: a fails, b answers; the second failure opens a's breaker.
    for _ in 0..2 {
        mocks[0].push(Reply::status(500));
        mocks[1].push(usage(2, 1, 0, 0));
        let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
        assert_eq!(resp.headers()["x-switchboard-provider"], "b");
        resp.bytes().await.unwrap();
    }
    // 5: a name that resolves to nothing.
    let resp = gw
        .post("/v1/chat/completions", &chat("no-such-model-xyz", "hi"))
        .await;
    assert_eq!(resp.status(), 404);

    // The usage records land; then the scrape.
    for _ in 0..100 {
        if sink.len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sink.len(), 5);
    let (status, ctype, text) = scrape(&gw, None).await;
    assert_eq!(status, 200, "{text}");
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    assert!(text.ends_with("# EOF\n"));
    let s = samples(&text);
    let get = |series: &str| {
        *s.get(series)
            .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
    };
    let req = |model: &str, provider: &str, class: &str| {
        get(&format!(
            r#"switchboard_requests_total{{dialect="openai",model="{model}",provider="{provider}",status_class="{class}"}}"#
        ))
    };
    assert_eq!(req("smart", "a", "2xx"), 2.0);
    assert_eq!(req("smart", "b", "2xx"), 2.0);
    assert_eq!(
        req("", "", "4xx"),
        1.0,
        "an unknown model is not a label value"
    );
    assert!(
        !text.contains("no-such-model-xyz"),
        "client-chosen names never become labels"
    );

    // Tokens equal the mock's usage: input excludes cached tokens, output includes reasoning.
    let tokens = |provider: &str, kind: &str| {
        get(&format!(
            r#"switchboard_tokens_total{{model="smart",provider="{provider}",kind="{kind}"}}"#
        ))
    };
    assert_eq!(tokens("a", "input"), (10.0 - 4.0) + 5.0);
    assert_eq!(tokens("a", "cache_read"), 4.0);
    assert_eq!(tokens("a", "output"), 7.0 + 3.0);
    assert_eq!(tokens("a", "reasoning"), 2.0);
    assert_eq!(tokens("b", "input"), 4.0);
    assert_eq!(tokens("b", "output"), 2.0);
    // And the same as the usage records written.
    let records = sink.records();
    let of = |p: &str, f: fn(&UsageRecord) -> u64| -> f64 {
        records
            .iter()
            .filter(|r| r.provider.as_deref() == Some(p))
            .map(f)
            .sum::<u64>() as f64
    };
    assert_eq!(tokens("a", "input"), of("a", |r| r.usage.input));
    assert_eq!(tokens("a", "output"), of("a", |r| r.usage.output));
    // Cost: $1/M in, $0.50/M cache read, $2/M out = 6 + 2 + 14 and 5 + 6 micro-dollars.
    assert_eq!(
        get(r#"switchboard_cost_micros_total{model="smart",provider="a"}"#),
        22.0 + 11.0
    );
    assert_eq!(
        get(r#"switchboard_cost_micros_total{model="smart",provider="a"}"#),
        records
            .iter()
            .filter(|r| r.provider.as_deref() == Some("a"))
            .map(|r| r.cost_micros.unwrap() as f64)
            .sum::<f64>()
    );

    assert_eq!(
        get(r#"switchboard_upstream_attempts_total{provider="a"}"#),
        4.0
    );
    assert_eq!(
        get(r#"switchboard_upstream_attempts_total{provider="b"}"#),
        2.0
    );
    assert_eq!(get(r#"switchboard_fallbacks_total{model="smart"}"#), 2.0);
    assert_eq!(
        get(
            r#"switchboard_request_duration_seconds_count{dialect="openai",model="smart",provider="a"}"#
        ),
        2.0
    );
    assert_eq!(
        get(
            r#"switchboard_time_to_first_token_seconds_count{dialect="openai",model="smart",provider="a"}"#
        ),
        1.0,
        "only the streamed request"
    );
    assert_eq!(get("switchboard_requests_in_flight"), 0.0);
    assert_eq!(
        get(r#"switchboard_circuit_breaker_state{provider="a",model="m",state="open"}"#),
        1.0
    );
    assert_eq!(
        get(r#"switchboard_circuit_breaker_state{provider="a",model="m",state="closed"}"#),
        0.0
    );
    assert_eq!(
        get(r#"switchboard_circuit_breaker_state{provider="b",model="m",state="closed"}"#),
        1.0
    );
    assert_eq!(get("switchboard_usage_records_written_total"), 5.0);
    assert_eq!(get("switchboard_usage_records_dropped_total"), 0.0);
    assert_eq!(get("switchboard_limits_redis_fallbacks_total"), 0.0);
    assert_eq!(get("switchboard_auth_locked_out_addresses"), 0.0);
}

/// Never finishes a write: the writer holds its first batch forever.
struct StuckSink;

impl UsageSink for StuckSink {
    fn write_batch(&self, _: Vec<UsageRecord>) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn records_lost_to_a_full_usage_channel_are_counted() {
    let config = WriterConfig {
        capacity: 1,
        batch: 1,
        ..WriterConfig::default()
    };
    let (_mocks, gw) = two("", config, Arc::new(StuckSink)).await;
    for _ in 0..5 {
        let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
        assert_eq!(
            resp.status(),
            200,
            "a full usage channel never fails a request"
        );
        resp.bytes().await.unwrap();
    }
    let (_, _, text) = scrape(&gw, None).await;
    let s = samples(&text);
    let dropped = s["switchboard_usage_records_dropped_total"];
    // One record is stuck in the sink, one waits in the channel; the rest were lost.
    assert_eq!(dropped, 3.0, "{text}");
    assert_eq!(s["switchboard_usage_records_written_total"], 0.0);
}

#[tokio::test]
async fn metrics_need_a_key_once_keys_exist() {
    let (_mocks, gw) = two(
        "[auth]\nkeys = [\"sk-metrics-test\"]\n",
        quick_writer(),
        Arc::new(MemorySink::new()),
    )
    .await;
    let (status, _, body) = scrape(&gw, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("switchboard_requests"));
    let (status, _, _) = scrape(&gw, Some("sk-wrong")).await;
    assert_eq!(status, 401);
    // A failed key on the API counts too.
    let resp = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth("sk-wrong")
        .json(&chat("smart", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let (status, _, text) = scrape(&gw, Some("sk-metrics-test")).await;
    assert_eq!(status, 200);
    let s = samples(&text);
    assert_eq!(
        s[r#"switchboard_auth_failures_total{reason="invalid_key"}"#],
        1.0
    );
}

#[tokio::test]
async fn idempotent_replays_are_counted_and_metrics_can_be_turned_off() {
    let (_mocks, gw) = two("", quick_writer(), Arc::new(MemorySink::new())).await;
    for _ in 0..2 {
        let resp = gw
            .http
            .post(gw.url("/v1/chat/completions"))
            .header("Idempotency-Key", "once")
            .json(&chat("smart", "hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap();
    }
    let (_, _, text) = scrape(&gw, None).await;
    assert_eq!(
        samples(&text)["switchboard_idempotent_replays_total"],
        1.0,
        "{text}"
    );

    let (_mocks, off) = two(
        "[metrics]\nenabled = false\n",
        quick_writer(),
        Arc::new(MemorySink::new()),
    )
    .await;
    let (status, _, _) = scrape(&off, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn metrics_can_listen_on_their_own_address() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (_mocks, gw) = two(
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
        quick_writer(),
        Arc::new(MemorySink::new()),
    )
    .await;
    let resp = gw.post("/v1/chat/completions", &chat("smart", "hi")).await;
    resp.bytes().await.unwrap();
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        samples(&text)[r#"switchboard_requests_total{dialect="openai",model="smart",provider="a",status_class="2xx"}"#],
        1.0
    );
    let other = reqwest::get(format!("http://127.0.0.1:{port}/v1/models"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404, "only /metrics there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limiters_redis_health_and_fallbacks_are_shown() {
    // Redis on a port nothing listens on: the limits fall back to per-instance memory.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = RedisOptions {
        op_timeout: Duration::from_millis(300),
        probe_every: Duration::from_millis(100),
        ..RedisOptions::default()
    };
    let limiter =
        Limiter::with_redis_options(&format!("redis://127.0.0.1:{port}"), "sbmetrics", options)
            .await
            .unwrap();
    let subject = Subject::key(
        "k1",
        LimitSpec {
            rpm: Some(5),
            ..LimitSpec::default()
        },
    );
    for _ in 0..2 {
        let (admission, _) = limiter.admit(&subject, 0, 0).await.unwrap();
        limiter.settle(admission, 0, 0).await;
    }
    let services = Services {
        limiter: limiter.clone(),
        ..Services::default()
    };
    let mock = MockProvider::start().await;
    let toml = common::base_config(&mock.url());
    let gw = TestGateway::with_services(mock, &toml, services).await;
    let (_, _, text) = scrape(&gw, None).await;
    let s = samples(&text);
    assert_eq!(s["switchboard_limits_redis_healthy"], 0.0, "{text}");
    assert!(
        s["switchboard_limits_redis_fallbacks_total"] >= 2.0,
        "{text}"
    );
    let detailed: serde_json::Value = gw.get("/health/detailed").await.json().await.unwrap();
    assert_eq!(
        detailed["limits"]["redis"]["state"], "degraded",
        "{detailed}"
    );
    assert!(detailed["limits"]["fallbacks"].as_u64().unwrap() >= 2);
    limiter.shutdown().await;

    // A Redis that answers is healthy.
    let Some(url) = std::env::var("SWITCHBOARD_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("SKIPPED the healthy half: SWITCHBOARD_TEST_REDIS_URL is not set");
        return;
    };
    let prefix = format!("sbmetrics-{}", uuid::Uuid::new_v4().simple());
    let limiter = Limiter::with_redis(&url, &prefix).await.unwrap();
    let services = Services {
        limiter: limiter.clone(),
        ..Services::default()
    };
    let mock = MockProvider::start().await;
    let toml = common::base_config(&mock.url());
    let gw = TestGateway::with_services(mock, &toml, services).await;
    let (_, _, text) = scrape(&gw, None).await;
    let s = samples(&text);
    assert_eq!(s["switchboard_limits_redis_healthy"], 1.0, "{text}");
    assert_eq!(s["switchboard_limits_redis_fallbacks_total"], 0.0);
    limiter.shutdown().await;
}
