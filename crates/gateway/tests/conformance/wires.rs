//! Wire-format adapters, one entry each in [`WIRES`]: the provider's configuration against
//! the mock, a [`Script`] rendered as that format's raw JSON answer or event stream, and the
//! request the mock received read into a neutral [`Received`].
//!
//! Adding a wire format to the matrix is one entry here (its mock routes live in testkit).

use serde_json::{Value, json};
use testkit::Reply;

use super::{Call, Received, Script, Stop, Tokens};

pub struct WireSpec {
    /// The provider id, also the wire format's name in cell names.
    pub name: &'static str,
    /// The provider (`[providers.NAME]`, model `m`) and the virtual model `via-NAME`, given
    /// the provider id and the mock's base URL.
    pub provider: fn(&str, &str) -> String,
    /// The mock's reply for a script, as JSON or as a stream.
    pub render: fn(&Script, bool) -> Reply,
    /// The neutral view of the request body the mock received.
    pub received: fn(&Value) -> Received,
}

pub const WIRES: &[WireSpec] = &[
    WireSpec {
        name: "openai",
        provider: openai::provider,
        render: openai::render,
        received: openai::received,
    },
    WireSpec {
        name: "anthropic",
        provider: anthropic::provider,
        render: anthropic::render,
        received: anthropic::received,
    },
];

pub fn wire(name: &str) -> &'static WireSpec {
    WIRES
        .iter()
        .find(|w| w.name == name)
        .expect("a listed wire format")
}

/// `text` in three pieces (fewer when shorter), cut at character boundaries.
fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(3).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn raw(content_type: &str, body: String) -> Reply {
    Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), content_type.into())],
        body,
    }
}

fn error(status: u16, body: Value) -> Reply {
    Reply::Status {
        status,
        body: Some(body),
        retry_after: None,
    }
}

/// The text of a string or of an array of `{text}` parts.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn array(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

mod openai {
    use super::*;

    pub fn provider(name: &str, mock: &str) -> String {
        format!(
            r#"
[providers.{name}]
base_url = "{mock}/v1"
auth = "none"
[providers.{name}.models.m]
capabilities = ["tools", "vision", "json_schema", "reasoning"]
[models.via-{name}]
target = "{name}/m"
"#
        )
    }

    fn finish(stop: Stop) -> &'static str {
        match stop {
            Stop::Stop => "stop",
            Stop::Length => "length",
            Stop::ToolCalls => "tool_calls",
        }
    }

    fn usage(u: &Tokens) -> Value {
        json!({ "prompt_tokens": u.prompt, "completion_tokens": u.output,
                "total_tokens": u.prompt + u.output,
                "prompt_tokens_details": { "cached_tokens": u.cached } })
    }

    fn chunk(delta: Value, finish: Option<&str>) -> String {
        let c = json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                        "model": "m", "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] });
        format!("data: {c}\n\n")
    }

    pub fn render(script: &Script, stream: bool) -> Reply {
        let (reasoning, text, calls, stop, tokens) = match script {
            Script::Error { status, message } => {
                let kind = if *status == 400 {
                    "invalid_request_error"
                } else {
                    "server_error"
                };
                return error(
                    *status,
                    json!({ "error": { "message": message, "type": kind, "param": null, "code": null } }),
                );
            }
            Script::Answer {
                reasoning,
                text,
                calls,
                stop,
                usage,
            } => (reasoning, text, calls, *stop, usage),
        };
        if !stream {
            let content = if text.is_empty() {
                Value::Null
            } else {
                json!(text)
            };
            let mut message = json!({ "role": "assistant", "content": content });
            if let Some((thinking, _)) = reasoning {
                message["reasoning_content"] = json!(thinking);
            }
            if !calls.is_empty() {
                message["tool_calls"] = calls
                    .iter()
                    .map(|c| {
                        json!({ "id": c.id, "type": "function",
                        "function": { "name": c.name, "arguments": c.arguments.to_string() } })
                    })
                    .collect();
            }
            let body = json!({ "id": "chatcmpl-1", "object": "chat.completion", "created": 1,
                "model": "m", "choices": [{ "index": 0, "message": message, "finish_reason": finish(stop) }],
                "usage": usage(tokens) });
            return raw("application/json", body.to_string());
        }
        let mut out = chunk(json!({ "role": "assistant", "content": "" }), None);
        if let Some((thinking, _)) = reasoning {
            for p in pieces(thinking) {
                out += &chunk(json!({ "reasoning_content": p }), None);
            }
        }
        for p in pieces(text) {
            out += &chunk(json!({ "content": p }), None);
        }
        // Every call starts, then their arguments arrive interleaved, piece by piece.
        for (i, c) in calls.iter().enumerate() {
            out += &chunk(
                json!({ "tool_calls": [{ "index": i, "id": c.id, "type": "function",
                    "function": { "name": c.name, "arguments": "" } }] }),
                None,
            );
        }
        let args: Vec<Vec<String>> = calls
            .iter()
            .map(|c: &Call| pieces(&c.arguments.to_string()))
            .collect();
        for n in 0..3 {
            for (i, a) in args.iter().enumerate() {
                if let Some(p) = a.get(n) {
                    out += &chunk(
                        json!({ "tool_calls": [{ "index": i, "function": { "arguments": p } }] }),
                        None,
                    );
                }
            }
        }
        out += &chunk(json!({}), Some(finish(stop)));
        let u = json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                        "model": "m", "choices": [], "usage": usage(tokens) });
        out += &format!("data: {u}\n\ndata: [DONE]\n\n");
        raw("text/event-stream", out)
    }

    pub fn received(body: &Value) -> Received {
        let mut r = Received {
            stream: body["stream"] == true,
            reasoning: body.get("reasoning_effort").is_some_and(|v| !v.is_null()),
            max_tokens: body["max_tokens"]
                .as_u64()
                .or(body["max_completion_tokens"].as_u64()),
            schema: body["response_format"]["json_schema"]
                .get("schema")
                .cloned(),
            tools: array(&body["tools"])
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
                .collect(),
            ..Received::default()
        };
        for m in array(&body["messages"]) {
            match m["role"].as_str() {
                Some("system" | "developer") => r.system += &text_of(&m["content"]),
                Some("user") => {
                    r.user_text += &text_of(&m["content"]);
                    for p in array(&m["content"]) {
                        if let Some(url) = p["image_url"]["url"].as_str() {
                            r.images
                                .push(url.split_once("base64,").map_or(url, |(_, d)| d).into());
                        }
                    }
                }
                Some("assistant") => r.call_ids.extend(
                    array(&m["tool_calls"]).filter_map(|c| c["id"].as_str().map(str::to_owned)),
                ),
                Some("tool") => r.results.push((
                    m["tool_call_id"].as_str().unwrap_or("").to_owned(),
                    text_of(&m["content"]),
                )),
                _ => {}
            }
        }
        r
    }
}

mod anthropic {
    use super::*;

    pub fn provider(name: &str, mock: &str) -> String {
        format!(
            r#"
[providers.{name}]
base_url = "{mock}/v1"
wire_format = "anthropic"
auth = "header:x-api-key"
keys = ["sk-ant-1"]
[providers.{name}.models.m]
max_output_tokens = 8000
[models.via-{name}]
target = "{name}/m"
"#
        )
    }

    fn stop_reason(stop: Stop) -> &'static str {
        match stop {
            Stop::Stop => "end_turn",
            Stop::Length => "max_tokens",
            Stop::ToolCalls => "tool_use",
        }
    }

    fn usage(u: &Tokens) -> Value {
        json!({ "input_tokens": u.prompt - u.cached, "cache_read_input_tokens": u.cached,
                "cache_creation_input_tokens": 0, "output_tokens": u.output })
    }

    fn event(name: &str, data: Value) -> String {
        format!("event: {name}\ndata: {data}\n\n")
    }

    pub fn render(script: &Script, stream: bool) -> Reply {
        let (reasoning, text, calls, stop, tokens) = match script {
            Script::Error { status, message } => {
                let kind = if *status == 400 {
                    "invalid_request_error"
                } else {
                    "overloaded_error"
                };
                return error(
                    *status,
                    json!({ "type": "error", "error": { "type": kind, "message": message } }),
                );
            }
            Script::Answer {
                reasoning,
                text,
                calls,
                stop,
                usage,
            } => (reasoning, text, calls, *stop, usage),
        };
        let mut blocks = Vec::new();
        if let Some((thinking, signature)) = reasoning {
            blocks
                .push(json!({ "type": "thinking", "thinking": thinking, "signature": signature }));
        }
        if !text.is_empty() {
            blocks.push(json!({ "type": "text", "text": text }));
        }
        for c in calls {
            blocks.push(
                json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments }),
            );
        }
        if !stream {
            let body = json!({ "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                "content": blocks, "stop_reason": stop_reason(stop), "stop_sequence": null,
                "usage": usage(tokens) });
            return raw("application/json", body.to_string());
        }
        let mut start_usage = usage(tokens);
        start_usage["output_tokens"] = json!(1);
        let mut out = event(
            "message_start",
            json!({ "type": "message_start", "message": { "id": "msg_1", "type": "message",
                "role": "assistant", "model": "m", "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": start_usage } }),
        );
        for (index, block) in blocks.iter().enumerate() {
            let delta = |d: Value| {
                event(
                    "content_block_delta",
                    json!({ "type": "content_block_delta", "index": index, "delta": d }),
                )
            };
            let (start, deltas) = match block["type"].as_str() {
                Some("thinking") => (
                    json!({ "type": "thinking", "thinking": "" }),
                    pieces(block["thinking"].as_str().unwrap_or(""))
                        .into_iter()
                        .map(|p| json!({ "type": "thinking_delta", "thinking": p }))
                        .chain([
                            json!({ "type": "signature_delta", "signature": block["signature"] }),
                        ])
                        .collect::<Vec<_>>(),
                ),
                Some("text") => (
                    json!({ "type": "text", "text": "" }),
                    pieces(block["text"].as_str().unwrap_or(""))
                        .into_iter()
                        .map(|p| json!({ "type": "text_delta", "text": p }))
                        .collect(),
                ),
                _ => (
                    json!({ "type": "tool_use", "id": block["id"], "name": block["name"], "input": {} }),
                    pieces(&block["input"].to_string())
                        .into_iter()
                        .map(|p| json!({ "type": "input_json_delta", "partial_json": p }))
                        .collect(),
                ),
            };
            out += &event(
                "content_block_start",
                json!({ "type": "content_block_start", "index": index, "content_block": start }),
            );
            for d in deltas {
                out += &delta(d);
            }
            out += &event(
                "content_block_stop",
                json!({ "type": "content_block_stop", "index": index }),
            );
        }
        out += &event(
            "message_delta",
            json!({ "type": "message_delta",
                "delta": { "stop_reason": stop_reason(stop), "stop_sequence": null },
                "usage": { "output_tokens": tokens.output } }),
        );
        out += &event("message_stop", json!({ "type": "message_stop" }));
        raw("text/event-stream", out)
    }

    pub fn received(body: &Value) -> Received {
        // Structured output may be sent natively or as a forced tool.
        let forced = (body["tool_choice"]["type"] == "tool")
            .then(|| body["tool_choice"]["name"].as_str())
            .flatten();
        let forced_schema = forced.and_then(|name| {
            array(&body["tools"])
                .find(|t| t["name"] == name)
                .map(|t| t["input_schema"].clone())
        });
        let mut r = Received {
            stream: body["stream"] == true,
            system: text_of(&body["system"]),
            reasoning: body["thinking"]["type"] == "enabled",
            max_tokens: body["max_tokens"].as_u64(),
            schema: body["output_format"]
                .get("schema")
                .cloned()
                .or(forced_schema),
            tools: array(&body["tools"])
                .filter_map(|t| t["name"].as_str())
                .filter(|name| Some(*name) != forced)
                .map(str::to_owned)
                .collect(),
            ..Received::default()
        };
        for m in array(&body["messages"]) {
            let user = m["role"] == "user";
            if user && m["content"].is_string() {
                r.user_text += &text_of(&m["content"]);
            }
            for block in array(&m["content"]) {
                match block["type"].as_str() {
                    Some("text") if user => r.user_text += block["text"].as_str().unwrap_or(""),
                    Some("image") => r
                        .images
                        .push(block["source"]["data"].as_str().unwrap_or("").to_owned()),
                    Some("tool_use") => r
                        .call_ids
                        .push(block["id"].as_str().unwrap_or("").to_owned()),
                    Some("tool_result") => r.results.push((
                        block["tool_use_id"].as_str().unwrap_or("").to_owned(),
                        text_of(&block["content"]),
                    )),
                    _ => {}
                }
            }
        }
        r
    }
}
