//! What the coding agents send that other clients do not, over real sockets against the mock:
//! the Codex CLI's `namespace` tools and hosted web search on the Responses dialect. The
//! agents themselves run in tests/sdk/python/test_agents.py; these tests pin the gateway
//! behaviour they rely on.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestGateway;
use serde_json::{Value, json};
use testkit::Reply;

/// The tools the Codex CLI (0.169) offers, in miniature: a function, a namespace of
/// functions, and hosted web search.
fn codex_tools() -> Value {
    json!([
        { "type": "function", "name": "exec_command", "strict": false,
          "parameters": { "type": "object", "properties": { "cmd": { "type": "string" } }, "required": ["cmd"] } },
        { "type": "namespace", "name": "multi_agent_v1", "description": "Sub-agents.", "tools": [
            { "type": "function", "name": "spawn_agent", "strict": false,
              "parameters": { "type": "object", "properties": { "task": { "type": "string" } } } }
        ] },
        { "type": "web_search", "external_web_access": false }
    ])
}

fn data_events(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn codex_tools_reach_a_chat_upstream_flattened_without_web_search() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::text("hello"));
    let req = json!({ "model": "fast", "input": "hi", "stream": true, "tools": codex_tools() });
    let resp = gw.post("/v1/responses", &req).await;
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    let completed = data_events(&body).pop().unwrap();
    assert_eq!(completed["type"], "response.completed");
    // The response echoes the tools as the client declared them (web search is not run).
    assert_eq!(completed["response"]["tools"][1]["type"], "namespace");

    let sent = gw.mock.last_request().unwrap().json().unwrap();
    let names: Vec<&str> = sent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["exec_command", "multi_agent_v1__spawn_agent"]);
    assert_eq!(
        sent["tools"][1]["function"]["parameters"]["properties"]["task"]["type"],
        "string"
    );
}

#[tokio::test]
async fn a_call_of_a_namespaced_function_names_its_namespace_and_comes_back_whole() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::ToolCall {
        name: "multi_agent_v1__spawn_agent".into(),
        arguments: "{\"task\":\"t\"}".into(),
        id: Some("call_ns".into()),
    });
    let req =
        json!({ "model": "fast", "input": "spawn one", "stream": true, "tools": codex_tools() });
    let resp = gw.post("/v1/responses", &req).await;
    let events = data_events(&resp.text().await.unwrap());
    let added = events
        .iter()
        .find(|e| e["type"] == "response.output_item.added")
        .unwrap();
    assert_eq!(added["item"]["type"], "function_call");
    assert_eq!(added["item"]["namespace"], "multi_agent_v1");
    assert_eq!(added["item"]["name"], "spawn_agent");
    let done = events
        .iter()
        .find(|e| e["type"] == "response.output_item.done")
        .unwrap();
    assert_eq!(done["item"]["namespace"], "multi_agent_v1");
    assert_eq!(done["item"]["arguments"], "{\"task\":\"t\"}");

    // The client sends the call back with its namespace: upstream it is the flat name again.
    gw.mock.push(Reply::text("spawned"));
    let follow = json!({
        "model": "fast",
        "tools": codex_tools(),
        "input": [
            { "role": "user", "content": "spawn one" },
            { "type": "function_call", "call_id": "call_ns", "namespace": "multi_agent_v1",
              "name": "spawn_agent", "arguments": "{\"task\":\"t\"}" },
            { "type": "function_call_output", "call_id": "call_ns", "output": "agent 7" }
        ]
    });
    let resp = gw.post("/v1/responses", &follow).await;
    assert_eq!(resp.status(), 200);
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    let call = &sent["messages"][1]["tool_calls"][0];
    assert_eq!(call["id"], "call_ns");
    assert_eq!(call["function"]["name"], "multi_agent_v1__spawn_agent");
    assert_eq!(sent["messages"][2]["role"], "tool");
}

#[tokio::test]
async fn a_tool_that_cannot_be_translated_is_refused_by_name() {
    let gw = TestGateway::start().await;
    let req = json!({
        "model": "fast",
        "input": "patch it",
        "tools": [{ "type": "custom", "name": "apply_patch", "format": { "type": "text" } }]
    });
    let resp = gw.post("/v1/responses", &req).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], "tools[0].type");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'custom'") && message.contains("'apply_patch'"),
        "{message}"
    );
    assert_eq!(gw.mock.calls(), 0, "nothing went upstream");
}

/// A provider speaking the Anthropic Messages API (the mock's `/v1/messages`).
fn anthropic_upstream(mock: &str) -> String {
    format!(
        r#"
[providers.claude]
base_url = "{mock}/v1"
wire_format = "anthropic"
auth = "header:x-api-key"
keys = ["sk-ant-1"]
[providers.claude.models."claude-x"]
max_output_tokens = 1000
"#
    )
}

#[tokio::test]
async fn codex_developer_items_are_the_system_prompt_of_an_anthropic_upstream() {
    let gw = TestGateway::with(anthropic_upstream).await;
    gw.mock.push(Reply::text("ok"));
    let req = json!({
        "model": "claude/claude-x",
        "stream": true,
        "tools": codex_tools(),
        "input": [
            { "type": "message", "role": "developer",
              "content": [{ "type": "input_text", "text": "You are a coding agent." }] },
            { "type": "message", "role": "user", "content": [{ "type": "input_text", "text": "hi" }] }
        ]
    });
    let resp = gw.post("/v1/responses", &req).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("response.completed"));
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["system"], "You are a coding agent.");
    assert_eq!(
        sent["messages"],
        json!([{ "role": "user", "content": "hi" }])
    );
    let names: Vec<&str> = sent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["exec_command", "multi_agent_v1__spawn_agent"]);
}

/// What Claude Code sends for a model it does not know: a system message inside the
/// conversation and adaptive thinking with an effort.
#[tokio::test]
async fn claude_codes_mid_conversation_system_message_reaches_a_chat_upstream() {
    let gw = TestGateway::start().await;
    gw.mock.push(Reply::text("hello"));
    let req = json!({
        "model": "fast",
        "max_tokens": 32000,
        "stream": true,
        "thinking": { "type": "adaptive" },
        "output_config": { "effort": "high" },
        "context_management": { "edits": [{ "type": "clear_thinking_20251015", "keep": "all" }] },
        "messages": [
            { "role": "user", "content": [{ "type": "text", "text": "say hi" }] },
            { "role": "system", "content": "Available agent types: none." }
        ]
    });
    let resp = gw.post("/v1/messages?beta=true", &req).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("message_stop"));
    let sent = gw.mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["messages"][1]["role"], "system");
    assert_eq!(
        sent["messages"][1]["content"],
        "Available agent types: none."
    );
}
