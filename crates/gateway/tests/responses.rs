//! The OpenAI Responses dialect (`/v1/responses`) through the translation path, over real
//! sockets, against the mock speaking OpenAI chat completions.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestGateway, base_config};
use gateway::auth::keys::KeyRegistry;
use gateway::limits::Limiter;
use gateway::state::Services;
use gateway::usage::{MemorySink, UsageWriter, WriterConfig};
use serde_json::{Value, json};
use store::{Limits, NewApiKey, NewUser, SecretBox, SecretKey, Store};
use testkit::{MockProvider, MockUsage, Reply};

fn request(text: &str) -> Value {
    json!({ "model": "fast", "input": text })
}

/// The `(event name, data)` of every event of an SSE response.
async fn events(resp: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let bytes = resp.bytes().await.unwrap();
    let mut dec = wire::sse::SseDecoder::new();
    dec.push(&bytes);
    let mut out = Vec::new();
    while let Some(ev) = dec.next_event().unwrap() {
        if !ev.is_comment() {
            let data: Value = serde_json::from_str(&ev.data).unwrap();
            let name = ev.event.unwrap_or_default();
            assert_eq!(data["type"], name.as_str(), "the event name is its type");
            out.push((name, data));
        }
    }
    assert!(dec.finish().unwrap().is_none());
    let numbers: Vec<u64> = out
        .iter()
        .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (0..out.len() as u64).collect::<Vec<_>>());
    out
}

/// Event names, runs of the same delta collapsed.
fn shape(events: &[(String, Value)]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for (t, _) in events {
        if !(t.ends_with(".delta") && out.last() == Some(&t.as_str())) {
            out.push(t);
        }
    }
    out
}

fn weather_tool() -> Value {
    json!([{ "type": "function", "name": "get_weather", "description": "Weather in a city",
             "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] },
             "strict": true }])
}

#[tokio::test]
async fn a_text_response_with_cached_usage() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Text {
        content: "hello there".into(),
        usage: Some(MockUsage {
            prompt_tokens: 2006,
            completion_tokens: 300,
            cached_tokens: 1920,
            reasoning_tokens: 256,
        }),
    });
    let mut req = request("hi");
    req["temperature"] = json!(0.5);
    req["max_output_tokens"] = json!(400);
    req["metadata"] = json!({ "k": "v" });
    req["text"] = json!({ "format": { "type": "json_schema", "name": "answer", "strict": true,
        "schema": { "type": "object", "properties": { "a": { "type": "string" } } } } });
    let resp = gw.post("/v1/responses", &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["model"], "fast");
    assert!(body["created_at"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(body["output"].as_array().unwrap().len(), 1);
    let item = &body["output"][0];
    assert_eq!(item["type"], "message");
    assert_eq!(item["role"], "assistant");
    assert_eq!(item["status"], "completed");
    assert_eq!(
        item["content"],
        json!([{ "type": "output_text", "text": "hello there", "annotations": [] }])
    );
    assert_eq!(
        body["usage"],
        json!({ "input_tokens": 2006, "input_tokens_details": { "cached_tokens": 1920 },
                "output_tokens": 300, "output_tokens_details": { "reasoning_tokens": 256 },
                "total_tokens": 2306 })
    );
    assert_eq!(body["temperature"], 0.5, "settings are echoed");
    assert_eq!(body["max_output_tokens"], 400);
    assert_eq!(body["metadata"], json!({ "k": "v" }));

    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["messages"],
        json!([{ "role": "user", "content": "hi" }])
    );
    assert_eq!(sent["max_tokens"], 400);
    assert!(
        sent.get("metadata").is_none(),
        "Responses-only fields stay here"
    );
    assert_eq!(
        sent["response_format"],
        json!({ "type": "json_schema", "json_schema": { "name": "answer", "strict": true,
            "schema": { "type": "object", "properties": { "a": { "type": "string" } } } } })
    );
    assert_eq!(
        body["text"]["format"]["name"], "answer",
        "the format is echoed"
    );
}

#[tokio::test]
async fn a_length_cut_is_incomplete() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: json!({ "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": "partial" }, "finish_reason": "length" }],
            "usage": { "prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8 } })
        .to_string(),
    });
    let body: Value = gw
        .post("/v1/responses", &request("long story"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "incomplete");
    assert_eq!(
        body["incomplete_details"],
        json!({ "reason": "max_output_tokens" })
    );
}

#[tokio::test]
async fn a_text_stream_follows_the_event_order() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Stream {
        chunks: vec!["Hel".into(), "lo".into(), " world".into()],
        delay_ms: 0,
    });
    let mut req = request("hi");
    req["stream"] = json!(true);
    let events = events(gw.post("/v1/responses", &req).await).await;
    assert_eq!(
        shape(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let created = &events[0].1["response"];
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["output"], json!([]));
    let id = created["id"].as_str().unwrap();
    let deltas: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "Hello world");
    let item_id = events[2].1["item"]["id"].as_str().unwrap();
    for (_, d) in &events[3..8] {
        assert_eq!(d["item_id"], item_id);
        assert_eq!(d["output_index"], 0);
    }
    let done = events
        .iter()
        .find(|(n, _)| n == "response.output_text.done")
        .unwrap();
    assert_eq!(done.1["text"], "Hello world");
    let completed = &events.last().unwrap().1["response"];
    assert_eq!(completed["id"], id);
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"][0]["content"][0]["text"], "Hello world");
    assert!(completed["usage"]["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_function_call_streams_its_arguments() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::ToolCall {
        name: "get_weather".into(),
        arguments: "{\"city\":\"Paris\"}".into(),
        id: Some("call_77".into()),
    });
    let mut req = request("weather in Paris?");
    req["stream"] = json!(true);
    req["tools"] = weather_tool();
    req["tool_choice"] = json!({ "type": "function", "name": "get_weather" });
    req["parallel_tool_calls"] = json!(false);
    let events = events(gw.post("/v1/responses", &req).await).await;
    assert_eq!(
        shape(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let added = &events[2].1["item"];
    assert_eq!(added["type"], "function_call");
    assert_eq!(added["call_id"], "call_77");
    assert_eq!(added["name"], "get_weather");
    assert_eq!(added["status"], "in_progress");
    let pieces: Vec<&str> = events
        .iter()
        .filter(|(n, _)| n == "response.function_call_arguments.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert!(pieces.len() > 1, "arguments arrive in pieces: {pieces:?}");
    assert_eq!(pieces.concat(), "{\"city\":\"Paris\"}");
    let done = events
        .iter()
        .find(|(n, _)| n == "response.function_call_arguments.done")
        .unwrap();
    assert_eq!(done.1["arguments"], "{\"city\":\"Paris\"}");
    let item = &events.last().unwrap().1["response"]["output"][0];
    assert_eq!(item["call_id"], "call_77");
    assert_eq!(item["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(item["status"], "completed");

    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["tools"],
        json!([{ "type": "function", "function": {
            "name": "get_weather", "description": "Weather in a city",
            "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] },
            "strict": true
        } }])
    );
    assert_eq!(
        sent["tool_choice"],
        json!({ "type": "function", "function": { "name": "get_weather" } })
    );
    assert_eq!(sent["parallel_tool_calls"], false);
}

#[tokio::test]
async fn a_function_call_output_goes_upstream_as_a_tool_message() {
    let gw = TestGateway::start().await;
    let req = json!({
        "model": "fast",
        "instructions": "be brief",
        "tools": weather_tool(),
        "input": [
            { "role": "user", "content": "weather in Paris?" },
            { "type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" },
            { "type": "function_call_output", "call_id": "call_1", "output": "sunny, 21C" }
        ]
    });
    let resp = gw.post("/v1/responses", &req).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["output"][0]["content"][0]["text"],
        "tool result: sunny, 21C"
    );
    assert_eq!(body["instructions"], "be brief");
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["messages"],
        json!([
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": "weather in Paris?" },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_1", "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }
            ] },
            { "role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C" }
        ])
    );
}

#[tokio::test]
async fn previous_response_id_chains_turns_and_get_reads_them_back() {
    let gw = TestGateway::start().await;
    let first: Value = gw
        .post("/v1/responses", &request("my name is Ada"))
        .await
        .json()
        .await
        .unwrap();
    let first_id = first["id"].as_str().unwrap();

    let mut req = request("what is my name?");
    req["previous_response_id"] = json!(first_id);
    req["stream"] = json!(true);
    let events = events(gw.post("/v1/responses", &req).await).await;
    let second = &events.last().unwrap().1["response"];
    assert_eq!(second["previous_response_id"], first_id);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["messages"],
        json!([
            { "role": "user", "content": "my name is Ada" },
            { "role": "assistant", "content": "echo: my name is Ada" },
            { "role": "user", "content": "what is my name?" }
        ])
    );

    // A third turn chained to the (streamed) second sees all three earlier messages.
    let mut req = request("and again?");
    req["previous_response_id"] = second["id"].clone();
    let resp = gw.post("/v1/responses", &req).await;
    assert_eq!(resp.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["messages"].as_array().unwrap().len(), 5);

    let got = gw.get(&format!("/v1/responses/{first_id}")).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.json::<Value>().await.unwrap(), first);
    let got: Value = gw
        .get(&format!("/v1/responses/{}", second["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(&got, second);

    let deleted = reqwest::Client::new()
        .delete(gw.url(&format!("/v1/responses/{first_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        deleted.json::<Value>().await.unwrap(),
        json!({ "id": first_id, "object": "response.deleted", "deleted": true })
    );
    assert_eq!(
        gw.get(&format!("/v1/responses/{first_id}")).await.status(),
        404
    );
}

#[tokio::test]
async fn store_false_keeps_nothing() {
    let gw = TestGateway::start().await;
    let mut req = request("forget me");
    req["store"] = json!(false);
    let body: Value = gw.post("/v1/responses", &req).await.json().await.unwrap();
    let got = gw
        .get(&format!("/v1/responses/{}", body["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.status(), 404);
}

#[tokio::test]
async fn an_unknown_previous_response_is_a_404() {
    let gw = TestGateway::start().await;
    let mut req = request("hi");
    req["previous_response_id"] = json!("resp_nope");
    let resp = gw.post("/v1/responses", &req).await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "previous_response_not_found");
    assert_eq!(body["error"]["param"], "previous_response_id");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resp_nope")
    );
    assert!(gw.mock.last_request().is_none(), "nothing went upstream");

    let resp = gw.get("/v1/responses/resp_nope").await;
    assert_eq!(resp.status(), 404);
    assert!(resp.json::<Value>().await.unwrap()["error"]["message"].is_string());
}

#[tokio::test]
async fn a_websocket_upgrade_is_refused_at_once() {
    let gw = TestGateway::start().await;
    let started = Instant::now();
    let resp = reqwest::Client::new()
        .get(gw.url("/v1/responses"))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 426);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(gw.get("/v1/responses").await.status(), 405);
}

#[tokio::test]
async fn bad_requests_are_openai_errors_naming_the_field() {
    let gw = TestGateway::start().await;
    let mut req = request("hi");
    req["tools"] = json!([{ "type": "code_interpreter" }]);
    let resp = gw.post("/v1/responses", &req).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], "tools[0].type");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'code_interpreter'")
    );
    let resp = gw.post("/v1/responses", &json!({ "model": "fast" })).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["param"],
        "input"
    );
    let req =
        json!({ "model": "fast", "input": [{ "type": "function_call_output", "output": "x" }] });
    let resp = gw.post("/v1/responses", &req).await;
    assert_eq!(resp.status(), 400);
    let message = resp.json::<Value>().await.unwrap()["error"]["message"].clone();
    let message = message.as_str().unwrap();
    assert!(
        message.contains("input[0]") && message.contains("call_id"),
        "{message}"
    );
    let resp = gw.post_raw("/v1/responses", "{not json").await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn an_upstream_failure_mid_stream_ends_with_an_error_event() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::DropMidStream { after_chunks: 2 });
    let mut req = request("hi");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/responses", &req).await;
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    let mut dec = wire::sse::SseDecoder::new();
    dec.push(&bytes);
    let mut names = Vec::new();
    let mut data = Vec::new();
    while let Some(ev) = dec.next_event().unwrap() {
        names.push(ev.event.clone().unwrap_or_default());
        data.push(serde_json::from_str::<Value>(&ev.data).unwrap());
    }
    assert_eq!(names[0], "response.created");
    assert!(!names.contains(&"response.completed".to_owned()));
    let n = names.len();
    assert_eq!(names[n - 2..], ["response.failed", "error"]);
    let failed = &data[n - 2];
    assert_eq!(failed["response"]["status"], "failed");
    assert!(failed["response"]["error"]["message"].is_string());
    assert_eq!(
        failed["response"]["output"][0]["content"][0]["text"]
            .as_str()
            .map(str::is_empty),
        Some(false),
        "the text relayed so far"
    );
    let error = &data[n - 1];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    let numbers: Vec<u64> = data
        .iter()
        .map(|d| d["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (0..n as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn stored_responses_stay_with_their_key_and_usage_is_recorded_as_responses() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_default(dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let secrets = SecretBox::new(&SecretKey::generate(), &SecretKey::generate()).unwrap();
    let keys = Arc::new(
        KeyRegistry::load(store.clone(), secrets.clone())
            .await
            .unwrap(),
    );
    let sink = MemorySink::new();
    let (usage, _task) = UsageWriter::start(
        Arc::new(sink.clone()),
        WriterConfig {
            interval: Duration::from_millis(20),
            ..WriterConfig::default()
        },
    );
    let services = Services {
        keys: Some(Arc::clone(&keys)),
        limiter: Limiter::memory(),
        usage: Some(usage),
        ..Services::default()
    };
    let mock = MockProvider::start().await;
    let toml = base_config(&mock.url());
    let gw = TestGateway::with_services(mock, &toml, services).await;
    let user = store.create_user(&NewUser::member("ada")).await.unwrap();
    let mut plaintexts = Vec::new();
    for name in ["a", "b"] {
        let generated = secrets.generate_api_key();
        store
            .create_key(&NewApiKey {
                user_id: user.id,
                name: name.into(),
                prefix: generated.prefix.clone(),
                hash: generated.hash,
                expires_at: None,
                allowed_models: Vec::new(),
                limits: Limits::default(),
            })
            .await
            .unwrap();
        plaintexts.push(generated.plaintext.expose().clone());
    }
    keys.refresh().await.unwrap();
    let (a, b) = (&plaintexts[0], &plaintexts[1]);

    let resp = gw.post("/v1/responses", &request("hello there")).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "authentication_error"
    );
    let send = |key: &str, req: reqwest::RequestBuilder| req.bearer_auth(key).send();
    let created: Value = send(
        a,
        gw.http
            .post(gw.url("/v1/responses"))
            .json(&request("hello there")),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/responses/{id}");

    assert_eq!(
        send(a, gw.http.get(gw.url(&path))).await.unwrap().status(),
        200
    );
    assert_eq!(gw.get(&path).await.status(), 401);
    assert_eq!(
        send(b, gw.http.get(gw.url(&path))).await.unwrap().status(),
        404,
        "another key does not see it"
    );
    let mut chained = request("again");
    chained["previous_response_id"] = json!(id);
    let resp = send(b, gw.http.post(gw.url("/v1/responses")).json(&chained))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        send(b, gw.http.delete(gw.url(&path)))
            .await
            .unwrap()
            .status(),
        404
    );
    let resp = send(a, gw.http.post(gw.url("/v1/responses")).json(&chained))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    tokio::time::sleep(Duration::from_millis(200)).await;
    let records = sink.records();
    let ok: Vec<_> = records.iter().filter(|r| r.status == 200).collect();
    assert_eq!(ok.len(), 2, "{records:?}");
    for r in ok {
        assert_eq!(r.dialect_in, wire::Dialect::Responses);
        assert_eq!(r.requested_model, "fast");
        assert!(r.key_id.is_some());
    }
}
