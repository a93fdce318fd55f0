//! Cache tokens are priced at their own rate for every (client dialect × wire format) pair,
//! streamed and not: one generated battery over every pair, each request's usage record
//! checked for its dialects, its normalized tokens and its exact cost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::TestGateway;
use gateway::state::Services;
use gateway::usage::{MemorySink, UsageRecord, UsageWriter, WriterConfig};
use serde_json::{Value, json};
use testkit::{MockProvider, MockUsage, Reply};
use wire::{Dialect, WireFormat};

/// Prices in USD per million tokens, so one token costs 1, 2 or 0.5 micro-dollars.
fn config(mock: &str) -> String {
    format!(
        r#"
[providers.oa]
base_url = "{mock}/v1"
auth = "none"
[providers.oa.models.m]
input_price = 1.0
output_price = 2.0
cache_read_price = 0.5

[providers.claude]
base_url = "{mock}/v1"
wire_format = "anthropic"
auth = "header:x-api-key"
keys = ["sk-ant-1"]
[providers.claude.models.m]
max_output_tokens = 1000
input_price = 1.0
output_price = 2.0
cache_read_price = 0.5

[models.via-openai]
target = "oa/m"
[models.via-anthropic]
target = "claude/m"
"#
    )
}

/// 2006 prompt tokens of which 1920 were cache reads, 300 output tokens.
fn cached_usage() -> MockUsage {
    MockUsage {
        prompt_tokens: 2006,
        completion_tokens: 300,
        cached_tokens: 1920,
        reasoning_tokens: 0,
    }
}

/// 86 uncached input tokens at 1, 1920 cache reads at 0.5, 300 output tokens at 2.
const EXPECTED_COST: i64 = 86 + 960 + 600;

/// The path and body of a one-turn request in `dialect` for `model`.
fn request(dialect: Dialect, model: &str, stream: bool) -> (String, Value) {
    match dialect {
        Dialect::OpenAi => (
            "/v1/chat/completions".into(),
            json!({ "model": model, "stream": stream,
                    "messages": [{ "role": "user", "content": "hi" }] }),
        ),
        Dialect::Anthropic => (
            "/v1/messages".into(),
            json!({ "model": model, "max_tokens": 500, "stream": stream,
                    "messages": [{ "role": "user", "content": "hi" }] }),
        ),
        Dialect::Responses => (
            "/v1/responses".into(),
            json!({ "model": model, "input": "hi", "stream": stream }),
        ),
        Dialect::Gemini => {
            let method = if stream {
                "streamGenerateContent?alt=sse"
            } else {
                "generateContent"
            };
            (
                format!("/v1beta/models/{model}:{method}"),
                json!({ "contents": [{ "role": "user", "parts": [{ "text": "hi" }] }] }),
            )
        }
        Dialect::Ollama => (
            "/api/chat".into(),
            json!({ "model": model, "stream": stream,
                    "messages": [{ "role": "user", "content": "hi" }] }),
        ),
    }
}

async fn record(sink: &MemorySink, request_id: &str) -> UsageRecord {
    for _ in 0..200 {
        if let Some(r) = sink
            .records()
            .into_iter()
            .find(|r| r.request_id == request_id)
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no usage record for {request_id}");
}

#[tokio::test]
async fn cache_tokens_are_priced_at_their_own_rate_for_every_dialect_pair() {
    let sink = MemorySink::new();
    let writer = WriterConfig {
        interval: Duration::from_millis(10),
        ..WriterConfig::default()
    };
    let (handle, _task) = UsageWriter::start(Arc::new(sink.clone()), writer);
    let services = Services {
        usage: Some(handle),
        ..Services::default()
    };
    let mock = MockProvider::start().await;
    let toml = config(&mock.url());
    let gw = TestGateway::with_services(mock, &toml, services).await;

    let dialects = [
        Dialect::OpenAi,
        Dialect::Anthropic,
        Dialect::Responses,
        Dialect::Gemini,
        Dialect::Ollama,
    ];
    let wires = [
        ("via-openai", WireFormat::OpenAi),
        ("via-anthropic", WireFormat::Anthropic),
    ];
    let mut checked = 0;
    for dialect in dialects {
        for (model, wire) in wires {
            for stream in [false, true] {
                let case = format!("{dialect} -> {wire}, stream {stream}");
                let id = format!("price-{dialect}-{wire}-{stream}");
                gw.mock.push(Reply::Text {
                    content: "cached answer".into(),
                    usage: Some(cached_usage()),
                });
                let (path, body) = request(dialect, model, stream);
                let resp = gw
                    .http
                    .post(gw.url(&path))
                    .header("x-request-id", &id)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "{case}");
                let text = resp.text().await.unwrap();
                assert!(text.contains("answer"), "{case}: {text}");

                let r = record(&sink, &id).await;
                assert_eq!(r.dialect_in, dialect, "{case}");
                assert_eq!(r.dialect_out, Some(wire), "{case}");
                assert_eq!(
                    (r.usage.input, r.usage.cache_read, r.usage.output),
                    (86, 1920, 300),
                    "{case}: usage is normalized the same way whatever the dialects"
                );
                assert_eq!(r.cost_micros, Some(EXPECTED_COST), "{case}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 20);
}
