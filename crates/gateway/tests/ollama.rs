//! The Ollama API dialect over real sockets: Ollama clients against the mock speaking the
//! OpenAI wire format (chat, generate, tools, structured output, thinking, embeddings), and
//! the discovery routes Ollama's clients call.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestGateway, base_config};
use gateway::auth::keys::KeyRegistry;
use gateway::limits::Limiter;
use gateway::state::Services;
use gateway::usage::{MemorySink, UsageWriter, WriterConfig};
use serde_json::{Value, json};
use store::{Limits, NewApiKey, NewUser, SecretBox, SecretKey, Store};
use testkit::{MockProvider, MockUsage, Reply};

fn chat(model: &str, text: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": text }], "stream": false })
}

/// Every line of an NDJSON body, each parsed (a line that is not JSON fails the test).
async fn lines(resp: reqwest::Response) -> Vec<Value> {
    let text = resp.text().await.unwrap();
    assert!(
        text.ends_with('\n'),
        "every line ends with a newline: {text:?}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

fn usage(prompt: u64, completion: u64, cached: u64) -> MockUsage {
    MockUsage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        cached_tokens: cached,
        reasoning_tokens: 0,
    }
}

#[tokio::test]
async fn a_chat_answers_whole_with_counts_and_durations() {
    let gw = TestGateway::start().await;
    let mut req = chat("fast", "hello there");
    req["messages"] = json!([
        { "role": "system", "content": "be brief" },
        { "role": "user", "content": "hello there" }
    ]);
    let resp = gw.post("/api/chat", &req).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["model"], "fast",
        "the client sees the name it asked for"
    );
    assert_eq!(
        body["message"],
        json!({ "role": "assistant", "content": "echo: hello there" })
    );
    assert_eq!(body["done"], true);
    assert_eq!(body["done_reason"], "stop");
    // The mock counts words across all messages: "be brief hello there".
    assert_eq!(body["prompt_eval_count"], 4);
    assert_eq!(body["eval_count"], 3);
    assert!(body["total_duration"].as_u64().unwrap() > 0);
    assert!(body["eval_duration"].as_u64().unwrap() > 0);
    assert_eq!(body["load_duration"], 0);
    let created = body["created_at"].as_str().unwrap();
    assert!(created.len() == 27 && created.ends_with('Z'), "{created}");

    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    let sent = sent.json().unwrap();
    assert_eq!(
        sent["messages"],
        json!([
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": "hello there" }
        ])
    );
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert!(sent.get("stream").is_none());
}

#[tokio::test]
async fn a_chat_streams_ndjson_by_default_and_ends_with_the_counts() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Text {
        content: "one two three".into(),
        usage: Some(usage(2000, 3, 1920)),
    });
    let mut req = chat("fast", "count");
    req.as_object_mut().unwrap().remove("stream");
    let resp = gw.post("/v1/api/chat", &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let lines = lines(resp).await;
    let (last, deltas) = lines.split_last().unwrap();
    assert!(deltas.len() >= 3, "one line per word: {lines:?}");
    for l in deltas {
        assert_eq!(l["done"], false);
        assert_eq!(l["model"], "fast");
        assert_eq!(l["message"]["role"], "assistant");
    }
    let text: String = deltas
        .iter()
        .map(|l| l["message"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "one two three");
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["prompt_eval_count"], 2000, "cached tokens included");
    assert_eq!(last["eval_count"], 3);
    for d in [
        "total_duration",
        "prompt_eval_duration",
        "eval_duration",
        "load_duration",
    ] {
        assert!(last[d].is_u64(), "{d}: {last}");
    }
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["stream"], true);
}

#[tokio::test]
async fn generate_takes_a_system_prompt_and_options() {
    let gw = TestGateway::start().await;
    let req = json!({
        "model": "fast",
        "prompt": "why is the sky blue",
        "system": "answer in one line",
        "stream": false,
        "raw": false,
        "keep_alive": "5m",
        "options": {
            "num_predict": 42, "stop": ["\n\n"], "temperature": 0.7, "top_p": 0.9,
            "seed": 7, "num_ctx": 8192, "repeat_penalty": 1.1
        }
    });
    let resp = gw.post("/api/generate", &req).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["response"], "echo: why is the sky blue");
    assert!(body.get("message").is_none());
    assert_eq!(body["done"], true);
    assert_eq!(body["done_reason"], "stop");
    assert_eq!(body["eval_count"], 6);

    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["messages"],
        json!([
            { "role": "system", "content": "answer in one line" },
            { "role": "user", "content": "why is the sky blue" }
        ])
    );
    assert_eq!(sent["max_tokens"], 42);
    assert_eq!(sent["stop"], json!(["\n\n"]));
    assert_eq!(
        sent["temperature"], 0.7,
        "the client's value beats the model's params"
    );
    assert_eq!(sent["top_p"], 0.9);
    assert_eq!(sent["seed"], 7);
    for ignored in ["num_ctx", "repeat_penalty", "keep_alive", "raw", "options"] {
        assert!(
            sent.get(ignored).is_none(),
            "{ignored} reached the upstream"
        );
    }

    // Streamed: `response` pieces, then the final object.
    let mut req = req;
    req["stream"] = json!(true);
    req["options"] = json!({ "num_predict": -1 });
    let resp = gw.post("/api/generate", &req).await;
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let lines = lines(resp).await;
    let text: String = lines
        .iter()
        .map(|l| l["response"].as_str().unwrap())
        .collect();
    assert_eq!(text, "echo: why is the sky blue");
    assert_eq!(lines.last().unwrap()["done"], true);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert!(
        sent.get("max_tokens").is_none(),
        "num_predict -1 is no limit"
    );
}

#[tokio::test]
async fn tool_calls_go_out_as_objects_and_results_come_back_by_name() {
    let gw = TestGateway::start().await;
    let tools = json!([{ "type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }
    } }]);
    gw.mock.push(Reply::ToolCall {
        name: "get_weather".into(),
        arguments: r#"{"city":"Paris"}"#.into(),
        id: Some("call_up_1".into()),
    });
    let mut req = chat("fast", "weather in Paris?");
    req["tools"] = tools.clone();
    let body: Value = gw.post("/api/chat", &req).await.json().await.unwrap();
    assert_eq!(
        body["message"]["tool_calls"],
        json!([{ "function": { "name": "get_weather", "arguments": { "city": "Paris" } } }])
    );
    assert_eq!(body["done_reason"], "stop");
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["tools"], tools);

    // Streamed, the call arrives whole in one line.
    gw.mock.push(Reply::ToolCall {
        name: "get_weather".into(),
        arguments: r#"{"city":"Paris"}"#.into(),
        id: None,
    });
    req["stream"] = json!(true);
    let lines = lines(gw.post("/api/chat", &req).await).await;
    let calls: Vec<&Value> = lines
        .iter()
        .filter_map(|l| l["message"].get("tool_calls"))
        .collect();
    assert_eq!(
        calls,
        [&json!([{ "function": { "name": "get_weather", "arguments": { "city": "Paris" } } }])]
    );

    // The client sends the call back with its result: the ids match upstream.
    let req = json!({
        "model": "fast", "stream": false, "tools": tools,
        "messages": [
            { "role": "user", "content": "weather in Paris?" },
            { "role": "assistant", "content": "", "tool_calls": [
                { "function": { "name": "get_weather", "arguments": { "city": "Paris" } } }
            ] },
            { "role": "tool", "tool_name": "get_weather", "content": "sunny" }
        ]
    });
    let body: Value = gw.post("/api/chat", &req).await.json().await.unwrap();
    assert_eq!(body["message"]["content"], "tool result: sunny");
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    let call = &messages[1]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(messages[2]["role"], "tool");
    assert_eq!(messages[2]["content"], "sunny");
    assert_eq!(messages[2]["tool_call_id"], call["id"]);

    // A result that answers no call is the client's error.
    let req = json!({ "model": "fast", "stream": false, "messages": [
        { "role": "user", "content": "hi" },
        { "role": "tool", "tool_name": "get_weather", "content": "sunny" }
    ] });
    let resp = gw.post("/api/chat", &req).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("get_weather"),
        "{body}"
    );
}

#[tokio::test]
async fn format_and_think_reach_the_upstream() {
    let gw = TestGateway::with(|_| {
        "[providers.mock.models.\"o-mini\"]\ncapabilities = [\"tools\", \"reasoning\"]\n".into()
    })
    .await;
    let schema = json!({ "type": "object", "properties": { "age": { "type": "integer" } }, "required": ["age"] });
    let mut req = chat("mock/o-mini", "how old?");
    req["format"] = schema.clone();
    req["think"] = json!("high");
    assert_eq!(gw.post("/api/chat", &req).await.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["response_format"]["type"], "json_schema");
    assert_eq!(sent["response_format"]["json_schema"]["schema"], schema);
    assert_eq!(sent["reasoning_effort"], "high");

    req["format"] = json!("json");
    req["think"] = json!(true);
    assert_eq!(gw.post("/api/chat", &req).await.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["response_format"], json!({ "type": "json_object" }));
    assert_eq!(sent["reasoning_effort"], "medium");

    req["think"] = json!("very");
    let resp = gw.post("/api/chat", &req).await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("think")
    );
}

#[tokio::test]
async fn upstream_reasoning_comes_back_as_thinking() {
    let gw = TestGateway::start().await;
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({ "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                    "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
        )
    };
    gw.mock.push(Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: [
            chunk(
                json!({ "role": "assistant", "reasoning_content": "Let me " }),
                Value::Null,
            ),
            chunk(json!({ "reasoning_content": "think." }), Value::Null),
            chunk(json!({ "content": "42" }), Value::Null),
            chunk(json!({}), json!("length")),
            "data: [DONE]\n\n".to_owned(),
        ]
        .concat(),
    });
    let mut req = chat("fast", "?");
    req["stream"] = json!(true);
    req["think"] = json!(true);
    let lines = lines(gw.post("/api/chat", &req).await).await;
    let thinking: String = lines
        .iter()
        .filter_map(|l| l["message"]["thinking"].as_str())
        .collect();
    assert_eq!(thinking, "Let me think.");
    assert_eq!(lines[2]["message"]["content"], "42");
    assert_eq!(lines.last().unwrap()["done_reason"], "length");
}

#[tokio::test]
async fn discovery_routes_answer_as_ollama_does() {
    let gw = TestGateway::start().await;
    let resp = gw.get("/").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "Ollama is running");
    let head = gw.http.head(gw.url("/")).send().await.unwrap();
    assert_eq!(head.status(), 200);

    let version: Value = gw.get("/api/version").await.json().await.unwrap();
    assert_eq!(version["version"], gateway::ingress::ollama::VERSION);

    let tags: Value = gw.get("/api/tags").await.json().await.unwrap();
    let fast = tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "fast")
        .unwrap_or_else(|| panic!("{tags}"));
    assert_eq!(fast["model"], "fast");
    assert_eq!(fast["size"], 0);
    assert_eq!(fast["digest"].as_str().unwrap().len(), 64);
    assert!(fast["details"]["family"].is_string());
    assert!(fast["modified_at"].as_str().unwrap().ends_with('Z'));
    let v1: Value = gw.get("/v1/api/tags").await.json().await.unwrap();
    assert_eq!(v1, tags);

    let show = gw.post("/api/show", &json!({ "model": "fast" })).await;
    assert_eq!(show.status(), 200);
    let show: Value = show.json().await.unwrap();
    assert_eq!(show["capabilities"], json!(["completion", "tools"]));
    assert_eq!(show["model_info"]["mock.context_length"], 128_000);
    let missing = gw.post("/api/show", &json!({ "model": "nope" })).await;
    assert_eq!(missing.status(), 404);
    assert!(missing.json::<Value>().await.unwrap()["error"].is_string());

    let ps: Value = gw.get("/api/ps").await.json().await.unwrap();
    assert_eq!(ps, json!({ "models": [] }));

    let pull = gw.post("/api/pull", &json!({ "model": "llama3" })).await;
    assert_eq!(pull.status(), 501);
    assert!(
        pull.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("/api/pull")
    );
}

#[tokio::test]
async fn embeddings_go_through_the_upstreams_embeddings_endpoint() {
    let gw = TestGateway::start().await;
    let resp = gw
        .post(
            "/api/embed",
            &json!({ "model": "fast", "input": ["first text", "second one here"] }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["model"], "fast");
    let embeddings = body["embeddings"].as_array().unwrap();
    assert_eq!(embeddings.len(), 2);
    assert!(!embeddings[0].as_array().unwrap().is_empty());
    assert_ne!(embeddings[0], embeddings[1]);
    assert!(body["prompt_eval_count"].as_u64().unwrap() > 0);
    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1/embeddings");
    let sent = sent.json().unwrap();
    assert_eq!(sent["input"], json!(["first text", "second one here"]));
    assert_eq!(sent["model"], "gpt-4o-mini");

    // The older route: one prompt, one vector, the same as embed's first.
    let old: Value = gw
        .post(
            "/api/embeddings",
            &json!({ "model": "fast", "prompt": "first text" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old["embedding"], embeddings[0]);

    let bad = gw
        .post("/api/embed", &json!({ "model": "fast", "input": 3 }))
        .await;
    assert_eq!(bad.status(), 400);
    assert!(bad.json::<Value>().await.unwrap()["error"].is_string());
}

#[tokio::test]
async fn errors_are_ollama_errors() {
    let gw = TestGateway::start().await;
    let resp = gw.post("/api/chat", &chat("no-such-model", "hi")).await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no-such-model"));

    let resp = gw.post_raw("/api/chat", "{not json").await;
    assert_eq!(resp.status(), 400);
    assert!(resp.json::<Value>().await.unwrap()["error"].is_string());

    let resp = gw
        .post("/api/chat", &json!({ "model": "fast", "messages": [] }))
        .await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("messages")
    );

    gw.mock.push(Reply::Status {
        status: 400,
        body: Some(json!({ "error": { "message": "temperature is out of range", "type": "invalid_request_error", "param": "temperature", "code": null } })),
        retry_after: None,
    });
    let resp = gw.post("/api/chat", &chat("fast", "x")).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({ "error": "temperature is out of range" })
    );

    // Mid-stream: the last line is the error.
    gw.mock.push(Reply::DropMidStream { after_chunks: 2 });
    let mut req = chat("fast", "one two three four five");
    req["stream"] = json!(true);
    let resp = gw.post("/api/chat", &req).await;
    assert_eq!(resp.status(), 200);
    let lines = lines(resp).await;
    assert_eq!(lines[0]["done"], false);
    let last = lines.last().unwrap();
    assert!(last["error"].is_string(), "{lines:?}");
    assert!(lines.iter().all(|l| l["done"] != true));
}

#[tokio::test]
async fn keys_apply_as_bearer_tokens_and_usage_is_recorded_as_ollama() {
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
    let generated = secrets.generate_api_key();
    store
        .create_key(&NewApiKey {
            user_id: user.id,
            name: "test".into(),
            prefix: generated.prefix.clone(),
            hash: generated.hash,
            expires_at: None,
            allowed_models: Vec::new(),
            limits: Limits::default(),
        })
        .await
        .unwrap();
    keys.refresh().await.unwrap();
    let key = generated.plaintext.expose().clone();

    let resp = gw.post("/api/chat", &chat("fast", "hello there")).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.json::<Value>().await.unwrap()["error"].is_string());
    assert_eq!(gw.get("/api/tags").await.status(), 401);
    assert_eq!(
        gw.get("/").await.status(),
        200,
        "the liveness check stays open"
    );

    let resp = gw
        .http
        .post(gw.url("/api/chat"))
        .bearer_auth(&key)
        .json(&chat("fast", "hello there"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let tags = gw
        .http
        .get(gw.url("/api/tags"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status(), 200);

    tokio::time::sleep(Duration::from_millis(200)).await;
    let records = sink.records();
    let r = records
        .iter()
        .find(|r| r.status == 200)
        .unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(r.dialect_in, wire::Dialect::Ollama);
    assert_eq!(r.requested_model, "fast");
    assert_eq!((r.usage.input, r.usage.output), (2, 3));
    assert!(r.key_id.is_some());
}

#[tokio::test]
async fn images_reach_the_upstream_as_data_urls() {
    let gw = TestGateway::start().await;
    let mut req = chat("fast", "what is this?");
    req["messages"][0]["images"] = json!(["iVBORw0KGgo="]);
    assert_eq!(gw.post("/api/chat", &req).await.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    let parts = sent["messages"][0]["content"].as_array().unwrap();
    assert_eq!(parts[0], json!({ "type": "text", "text": "what is this?" }));
    assert_eq!(
        parts[1]["image_url"]["url"],
        "data:image/png;base64,iVBORw0KGgo="
    );
}
