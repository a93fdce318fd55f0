//! The Gemini API dialect through the translation path, over real sockets: Gemini clients
//! (`/v1beta/models/{model}:generateContent` and friends) against the mock speaking the
//! OpenAI wire format.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestGateway;
use serde_json::{Value, json};
use testkit::{MockUsage, Reply};

fn generate(text: &str) -> Value {
    json!({ "contents": [{ "role": "user", "parts": [{ "text": text }] }] })
}

/// The `data` of every event of an SSE response, as JSON.
async fn sse(resp: reqwest::Response) -> Vec<Value> {
    let bytes = resp.bytes().await.unwrap();
    let mut dec = wire::sse::SseDecoder::new();
    dec.push(&bytes);
    let mut out = Vec::new();
    while let Some(ev) = dec.next_event().unwrap() {
        assert!(ev.event.is_none(), "Gemini events have no name");
        out.push(serde_json::from_str(&ev.data).unwrap());
    }
    assert!(dec.finish().unwrap().is_none());
    out
}

/// The text of all parts of all chunks, thoughts left out.
fn text_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|p| p["thought"] != json!(true))
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect()
}

fn weather_tool() -> Value {
    json!([{ "functionDeclarations": [{
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": { "type": "OBJECT", "properties": { "city": { "type": "STRING" } }, "required": ["city"] }
    }] }])
}

#[tokio::test]
async fn text_with_a_system_instruction_is_translated_both_ways() {
    let gw = TestGateway::start().await;
    let mut req = generate("hello there");
    req["systemInstruction"] = json!({ "parts": [{ "text": "be brief" }] });
    req["generationConfig"] =
        json!({ "maxOutputTokens": 100, "stopSequences": ["END"], "topP": 0.5 });
    req["safetySettings"] =
        json!([{ "category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE" }]);
    let resp = gw.post("/v1beta/models/fast:generateContent", &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    let candidate = &body["candidates"][0];
    assert_eq!(
        candidate["content"],
        json!({ "role": "model", "parts": [{ "text": "echo: hello there" }] })
    );
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(candidate["index"], 0);
    assert_eq!(
        body["modelVersion"], "fast",
        "the client sees the name it asked for"
    );
    assert!(!body["responseId"].as_str().unwrap().is_empty());
    // The mock counts words across all messages: "be brief hello there".
    assert_eq!(
        body["usageMetadata"],
        json!({ "promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7 })
    );

    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["messages"],
        json!([
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": "hello there" }
        ])
    );
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(sent["max_tokens"], 100);
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["top_p"], 0.5);
    assert!(
        sent.get("safetySettings").is_none(),
        "Gemini-only fields stay behind"
    );
    assert!(sent.get("stream").is_none());

    // The same under /v1/, and with the `models/` prefix of a provider/model name, raw or %2F.
    for path in [
        "/v1/models/fast:generateContent",
        "/v1beta/models/mock/gpt-4o-mini:generateContent",
        "/v1beta/models/mock%2Fgpt-4o-mini:generateContent",
    ] {
        let resp = gw.post(path, &generate("hi")).await;
        assert_eq!(resp.status(), 200, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body["candidates"][0]["content"]["parts"][0]["text"], "echo: hi",
            "{path}"
        );
    }
}

fn cached_usage() -> MockUsage {
    MockUsage {
        prompt_tokens: 2006,
        completion_tokens: 300,
        cached_tokens: 1920,
        reasoning_tokens: 256,
    }
}

#[tokio::test]
async fn usage_keeps_the_cache_in_the_prompt_and_thoughts_apart() {
    let gw = TestGateway::start().await;
    let expected = json!({
        "promptTokenCount": 2006,
        "cachedContentTokenCount": 1920,
        "candidatesTokenCount": 44,
        "thoughtsTokenCount": 256,
        "totalTokenCount": 2306
    });
    gw.mock.push(Reply::Text {
        content: "hi".into(),
        usage: Some(cached_usage()),
    });
    let body: Value = gw
        .post("/v1beta/models/fast:generateContent", &generate("x"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["usageMetadata"], expected);

    gw.mock.push(Reply::Text {
        content: "hi".into(),
        usage: Some(cached_usage()),
    });
    let chunks = sse(gw
        .post(
            "/v1beta/models/fast:streamGenerateContent?alt=sse",
            &generate("x"),
        )
        .await)
    .await;
    let last = chunks.last().unwrap();
    assert_eq!(last["usageMetadata"], expected);
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c.get("usageMetadata").is_none()),
        "usage comes once, at the end"
    );
}

#[tokio::test]
async fn alt_sse_streams_data_events() {
    let gw = TestGateway::start().await;
    let resp = gw
        .post(
            "/v1beta/models/fast:streamGenerateContent?alt=sse",
            &generate("one two three"),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let chunks = sse(resp).await;
    assert!(chunks.len() >= 3, "text arrives in pieces: {chunks:?}");
    assert_eq!(text_of(&chunks), "echo: one two three");
    for c in &chunks {
        assert_eq!(c["modelVersion"], "fast");
        assert_eq!(c["candidates"][0]["content"]["role"], "model");
    }
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert!(chunks[0]["candidates"][0].get("finishReason").is_none());
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["stream"], true);
}

#[tokio::test]
async fn without_alt_a_stream_is_one_json_array() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::Stream {
        chunks: vec!["Hel".into(), "lo".into(), " there".into()],
        delay_ms: 0,
    });
    let resp = gw
        .post("/v1/models/fast:streamGenerateContent", &generate("x"))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let raw = resp.text().await.unwrap();
    assert!(raw.starts_with('[') && raw.ends_with(']'), "{raw}");
    let chunks: Vec<Value> = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        chunks.len(),
        4,
        "three pieces of text and the finish: {raw}"
    );
    assert_eq!(text_of(&chunks), "Hello there");
    assert_eq!(chunks[3]["candidates"][0]["finishReason"], "STOP");
    assert!(
        chunks[3]["usageMetadata"]["totalTokenCount"]
            .as_u64()
            .is_some()
    );
}

#[tokio::test]
async fn a_streamed_call_comes_back_whole_and_its_response_goes_up_with_the_same_id() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::ToolCall {
        name: "get_weather".into(),
        arguments: r#"{"city":"Oslo"}"#.into(),
        id: Some("call_9".into()),
    });
    let mut req = generate("weather in Oslo?");
    req["tools"] = weather_tool();
    req["toolConfig"] = json!({ "functionCallingConfig": { "mode": "ANY" } });
    let chunks = sse(gw
        .post("/v1beta/models/fast:streamGenerateContent?alt=sse", &req)
        .await)
    .await;
    let calls: Vec<&Value> = chunks
        .iter()
        .flat_map(|c| c["candidates"][0]["content"]["parts"].as_array().unwrap())
        .filter(|p| p.get("functionCall").is_some())
        .collect();
    assert_eq!(
        calls,
        [
            &json!({ "functionCall": { "id": "call_9", "name": "get_weather", "args": { "city": "Oslo" } } })
        ],
        "one part, arguments parsed"
    );
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["tools"],
        json!([{ "type": "function", "function": {
            "name": "get_weather", "description": "Weather for a city",
            "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }
        } }])
    );
    assert_eq!(sent["tool_choice"], "required");

    // The next turn, as a client that keeps no ids sends it: the call and its response meet.
    let req = json!({
        "tools": weather_tool(),
        "contents": [
            { "role": "user", "parts": [{ "text": "weather in Oslo?" }] },
            { "role": "model", "parts": [{ "functionCall": { "name": "get_weather", "args": { "city": "Oslo" } } }] },
            { "role": "user", "parts": [{ "functionResponse": { "name": "get_weather", "response": { "result": "sunny" } } }] }
        ]
    });
    let resp = gw.post("/v1beta/models/fast:generateContent", &req).await;
    assert_eq!(resp.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    let call_id = messages[1]["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(
        messages[1]["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Oslo"}"#
    );
    assert_eq!(
        messages[2],
        json!({ "role": "tool", "tool_call_id": call_id, "content": "sunny" })
    );

    // A client that echoes the id it was given keeps it.
    let mut req = req;
    req["contents"][1]["parts"][0]["functionCall"]["id"] = json!("call_9");
    gw.post("/v1beta/models/fast:generateContent", &req).await;
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["messages"][1]["tool_calls"][0]["id"], "call_9");
    assert_eq!(sent["messages"][2]["tool_call_id"], "call_9");
}

fn completion(finish: &str) -> Reply {
    Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": "cut" }, "finish_reason": finish }],
            "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 }
        })
        .to_string(),
    }
}

#[tokio::test]
async fn finish_reasons_map_to_gemini_names() {
    let gw = TestGateway::start().await;
    for (openai, gemini) in [
        ("length", "MAX_TOKENS"),
        ("content_filter", "SAFETY"),
        ("stop", "STOP"),
    ] {
        gw.mock.push(completion(openai));
        let body: Value = gw
            .post("/v1beta/models/fast:generateContent", &generate("x"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["candidates"][0]["finishReason"], gemini, "{openai}");
    }
}

#[tokio::test]
async fn a_response_schema_becomes_a_json_schema_response_format() {
    let gw = TestGateway::start().await;
    let mut req = generate("a person");
    req["generationConfig"] = json!({
        "responseMimeType": "application/json",
        "responseSchema": { "type": "OBJECT", "properties": { "name": { "type": "STRING" } }, "propertyOrdering": ["name"] },
        "thinkingConfig": { "thinkingBudget": 0 }
    });
    assert_eq!(
        gw.post("/v1beta/models/fast:generateContent", &req)
            .await
            .status(),
        200
    );
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["response_format"],
        json!({ "type": "json_schema", "json_schema": {
            "name": "response",
            "schema": { "type": "object", "properties": { "name": { "type": "string" } } }
        } })
    );

    req["generationConfig"] = json!({ "responseMimeType": "application/json" });
    gw.post("/v1beta/models/fast:generateContent", &req).await;
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["response_format"], json!({ "type": "json_object" }));
}

#[tokio::test]
async fn the_key_may_come_in_the_query_or_the_goog_header() {
    let gw = TestGateway::with(|_| "[auth]\nkeys = [\"sk-gw-1\"]\n".into()).await;
    let resp = gw
        .post("/v1beta/models/fast:generateContent", &generate("x"))
        .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        json!({ "code": 401, "status": "UNAUTHENTICATED",
                "message": "missing API key: send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'" })
    );
    let resp = gw
        .post(
            "/v1beta/models/fast:generateContent?key=sk-gw-1",
            &generate("x"),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = gw
        .post(
            "/v1beta/models/fast:streamGenerateContent?alt=sse&key=wrong",
            &generate("x"),
        )
        .await;
    assert_eq!(resp.status(), 401);
    let resp = gw
        .http
        .post(gw.url("/v1beta/models/fast:generateContent"))
        .header("x-goog-api-key", "sk-gw-1")
        .json(&generate("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let listing = gw.get("/v1beta/models?key=sk-gw-1").await;
    assert_eq!(listing.status(), 200);
    assert_eq!(gw.get("/v1beta/models").await.status(), 401);
}

#[tokio::test]
async fn errors_are_gemini_error_objects_with_the_same_status() {
    let gw = TestGateway::start().await;
    let resp = gw
        .post("/v1beta/models/nope:generateContent", &generate("x"))
        .await;
    assert_eq!(resp.status(), 404);
    let error = &resp.json::<Value>().await.unwrap()["error"];
    assert_eq!(error["code"], 404);
    assert_eq!(error["status"], "NOT_FOUND");
    assert!(
        error["message"].as_str().unwrap().contains("nope"),
        "{error}"
    );

    let resp = gw
        .post_raw("/v1beta/models/fast:generateContent", "{not json")
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["status"],
        "INVALID_ARGUMENT"
    );

    let resp = gw
        .post(
            "/v1beta/models/fast:generateContent",
            &json!({ "contents": [] }),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let error = &resp.json::<Value>().await.unwrap()["error"];
    assert!(
        error["message"].as_str().unwrap().contains("contents"),
        "{error}"
    );

    let mut req = generate("x");
    req["contents"][0]["parts"][0] =
        json!({ "inlineData": { "mimeType": "audio/wav", "data": "AAAA" } });
    let resp = gw.post("/v1beta/models/fast:generateContent", &req).await;
    assert_eq!(resp.status(), 400);
    let error = &resp.json::<Value>().await.unwrap()["error"];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("contents[0].parts[0]"),
        "{error}"
    );

    let resp = gw.post("/v1beta/models/fast:predict", &generate("x")).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(gw.mock.calls(), 0, "nothing reached the upstream");

    gw.mock.push(Reply::Status {
        status: 429,
        body: None,
        retry_after: Some(7),
    });
    gw.mock.push(Reply::Status {
        status: 429,
        body: None,
        retry_after: Some(7),
    });
    let resp = gw
        .post("/v1beta/models/fast:generateContent", &generate("x"))
        .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["status"],
        "RESOURCE_EXHAUSTED"
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_element() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::DropMidStream { after_chunks: 2 });
    let raw = gw
        .post(
            "/v1beta/models/fast:streamGenerateContent",
            &generate("one two three four"),
        )
        .await
        .text()
        .await
        .unwrap();
    let chunks: Vec<Value> = serde_json::from_str(&raw).unwrap();
    let last = chunks.last().unwrap();
    assert_eq!(last["error"]["code"], 502, "{raw}");
    assert_eq!(last["error"]["status"], "UNAVAILABLE");
    assert!(!text_of(&chunks[..chunks.len() - 1]).is_empty());
}

#[tokio::test]
async fn models_are_listed_in_geminis_format_and_v1_models_stays_openais() {
    let gw = TestGateway::start().await;
    let body: Value = gw.get("/v1beta/models").await.json().await.unwrap();
    let fast = body["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "models/fast")
        .unwrap()
        .clone();
    assert_eq!(fast["displayName"], "fast");
    assert_eq!(fast["inputTokenLimit"], 128_000);
    assert_eq!(fast["description"], "the fast one");
    assert_eq!(
        fast["supportedGenerationMethods"],
        json!(["generateContent", "streamGenerateContent", "countTokens"])
    );
    let one: Value = gw.get("/v1beta/models/fast").await.json().await.unwrap();
    assert_eq!(one, fast);
    let resp = gw.get("/v1beta/models/nope").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["status"],
        "NOT_FOUND"
    );

    let openai: Value = gw.get("/v1/models").await.json().await.unwrap();
    assert_eq!(openai["object"], "list");
    // The google-genai SDKs list under /v1/ by default: they are told apart by their headers.
    let listing: Value = gw
        .http
        .get(gw.url("/v1/models"))
        .header("x-goog-api-client", "google-genai-sdk/3.4.0")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing["models"], body["models"]);
    let one: Value = gw
        .http
        .get(gw.url("/v1/models/fast"))
        .header("x-goog-api-key", "any")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one, fast);
    let openai_one: Value = gw.get("/v1/models/fast").await.json().await.unwrap();
    assert_eq!(openai_one["object"], "model");
}

#[tokio::test]
async fn count_tokens_estimates_without_calling_the_upstream() {
    let gw = TestGateway::start().await;
    let body: Value = gw
        .post("/v1beta/models/fast:countTokens", &generate("hello world!"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "totalTokens": 3 }), "12 characters / 4");
    let wrapped = json!({ "generateContentRequest": {
        "model": "models/fast",
        "systemInstruction": { "parts": [{ "text": "abcd" }] },
        "contents": generate("hello world!")["contents"]
    } });
    let body: Value = gw
        .post("/v1/models/fast:countTokens", &wrapped)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "totalTokens": 4 }));
    assert_eq!(
        gw.post("/v1beta/models/nope:countTokens", &generate("x"))
            .await
            .status(),
        404
    );
    assert_eq!(gw.mock.calls(), 0);
}

#[tokio::test]
async fn embeddings_go_through_the_upstreams_openai_embeddings() {
    let gw = TestGateway::start().await;
    let resp = gw
        .post(
            "/v1beta/models/mock/text-embedding-3-small:embedContent",
            &json!({ "content": { "parts": [{ "text": "hello" }, { "text": "world" }] }, "outputDimensionality": 8 }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["embedding"]["values"].as_array().unwrap().len(), 8);
    let sent = gw.mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1/embeddings");
    assert_eq!(
        sent.json().unwrap(),
        json!({ "model": "text-embedding-3-small", "input": "hello\nworld", "encoding_format": "float", "dimensions": 8 })
    );

    let body: Value = gw
        .post(
            "/v1/models/mock/text-embedding-3-small:batchEmbedContents",
            &json!({ "requests": [
                { "model": "models/mock/text-embedding-3-small", "content": { "parts": [{ "text": "a" }] } },
                { "model": "models/mock/text-embedding-3-small", "content": { "parts": [{ "text": "b" }] } }
            ] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let embeddings = body["embeddings"].as_array().unwrap();
    assert_eq!(embeddings.len(), 2);
    assert_ne!(
        embeddings[0], embeddings[1],
        "one vector per text, in order"
    );
    assert_eq!(
        gw.mock.last_request().unwrap().json().unwrap()["input"],
        json!(["a", "b"])
    );

    let resp = gw
        .post(
            "/v1beta/models/mock/text-embedding-3-small:embedContent",
            &json!({ "content": { "parts": [{ "inlineData": { "mimeType": "image/png", "data": "AAAA" } }] } }),
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["status"],
        "INVALID_ARGUMENT"
    );
    let resp = gw
        .post(
            "/v1beta/models/nope:embedContent",
            &json!({ "content": { "parts": [{ "text": "a" }] } }),
        )
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["status"],
        "NOT_FOUND"
    );
}
