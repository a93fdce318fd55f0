//! Client adapters, one per dialect: the request for an [`Ask`], and what the client saw
//! (JSON answer, stream, error) as one [`Observed`].

use serde_json::{Map, Value, json};
use wire::Dialect;

use super::cases::{TOOL_RESULT, tools};
use super::{Ask, ErrorSeen, Observed, Stop};

pub struct DialectSpec {
    /// The path and body of the request.
    pub request: fn(&Ask, &str, bool) -> (String, Value),
    /// A JSON answer.
    pub json: fn(&Value) -> Result<Observed, String>,
    /// A streamed answer: the whole body and its content type.
    pub stream: fn(&str, &str) -> Result<Observed, String>,
    /// An error body and its status.
    pub error: fn(&Value, u16) -> Result<ErrorSeen, String>,
}

pub fn dialect(d: Dialect) -> DialectSpec {
    match d {
        Dialect::OpenAi => DialectSpec {
            request: openai::request,
            json: openai::json,
            stream: openai::stream,
            error: openai_error,
        },
        Dialect::Anthropic => DialectSpec {
            request: anthropic::request,
            json: anthropic::json,
            stream: anthropic::stream,
            error: anthropic::error,
        },
        Dialect::Responses => DialectSpec {
            request: responses::request,
            json: responses::json,
            stream: responses::stream,
            error: openai_error,
        },
        Dialect::Gemini => DialectSpec {
            request: gemini::request,
            json: gemini::json,
            stream: gemini::stream,
            error: gemini::error,
        },
        Dialect::Ollama => DialectSpec {
            request: ollama::request,
            json: ollama::json,
            stream: ollama::stream,
            error: ollama::error,
        },
    }
}

fn str_of<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{what} is not a string: {v}"))
}

fn u64_of(v: &Value, what: &str) -> Result<u64, String> {
    v.as_u64()
        .ok_or_else(|| format!("{what} is not a count: {v}"))
}

fn args_of(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("tool arguments are not JSON ({e}): {text}"))
}

/// The `data` of each SSE event, with the event name; fails on a malformed stream.
fn sse(body: &str, content_type: &str) -> Result<Vec<(Option<String>, String)>, String> {
    if !content_type.starts_with("text/event-stream") {
        return Err(format!("content type {content_type}, not an event stream"));
    }
    let mut dec = wire::sse::SseDecoder::new();
    dec.push(body.as_bytes());
    let mut out = Vec::new();
    while let Some(ev) = dec.next_event().map_err(|e| e.to_string())? {
        if !ev.is_comment() {
            out.push((ev.event, ev.data));
        }
    }
    if let Some(ev) = dec.finish().map_err(|e| e.to_string())? {
        out.push((ev.event, ev.data));
    }
    Ok(out)
}

fn parse(data: &str) -> Result<Value, String> {
    serde_json::from_str(data).map_err(|e| format!("event is not JSON ({e}): {data}"))
}

/// OpenAI's error object, used by chat completions and Responses.
fn openai_error(v: &Value, _status: u16) -> Result<ErrorSeen, String> {
    let e = &v["error"];
    Ok(ErrorSeen {
        message: str_of(&e["message"], "error.message")?.to_owned(),
        kind: str_of(&e["type"], "error.type")?.to_owned(),
    })
}

/// Tool calls gathered from stream pieces, by index, in order of first appearance.
#[derive(Default)]
struct Calls(Vec<(u64, String, String)>);

impl Calls {
    fn piece(&mut self, index: u64, name: Option<&str>, arguments: &str) {
        match self.0.iter_mut().find(|(i, ..)| *i == index) {
            Some((_, n, a)) => {
                if let Some(name) = name {
                    n.push_str(name);
                }
                a.push_str(arguments);
            }
            None => self
                .0
                .push((index, name.unwrap_or("").to_owned(), arguments.to_owned())),
        }
    }

    fn done(self) -> Result<Vec<(String, Value)>, String> {
        self.0
            .into_iter()
            .map(|(_, name, args)| Ok((name, args_of(&args)?)))
            .collect()
    }
}

mod openai {
    use super::*;

    pub fn request(ask: &Ask, model: &str, stream: bool) -> (String, Value) {
        let mut messages = Vec::new();
        if let Some(system) = &ask.system {
            messages.push(json!({ "role": "system", "content": system }));
        }
        let content = match &ask.image {
            Some((mime, data)) => json!([
                { "type": "text", "text": ask.user },
                { "type": "image_url", "image_url": { "url": format!("data:{mime};base64,{data}") } }
            ]),
            None => json!(ask.user),
        };
        messages.push(json!({ "role": "user", "content": content }));
        if ask.tool_result {
            messages.push(
                json!({ "role": "assistant", "content": null, "tool_calls": [{
                "id": "call_w1", "type": "function",
                "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" }
            }] }),
            );
            messages
                .push(json!({ "role": "tool", "tool_call_id": "call_w1", "content": TOOL_RESULT }));
        }
        let mut body = json!({ "model": model, "messages": messages, "stream": stream });
        if stream {
            body["stream_options"] = json!({ "include_usage": true });
        }
        if ask.tools {
            body["tools"] = tools()
                .iter()
                .map(|(name, description, parameters)| {
                    json!({ "type": "function", "function": {
                        "name": name, "description": description, "parameters": parameters } })
                })
                .collect();
        }
        if let Some(schema) = &ask.schema {
            body["response_format"] = json!({ "type": "json_schema",
                "json_schema": { "name": "city", "schema": schema, "strict": true } });
        }
        if ask.reasoning {
            body["reasoning_effort"] = json!("high");
        }
        if let Some(n) = ask.max_tokens {
            body["max_tokens"] = json!(n);
        }
        ("/v1/chat/completions".into(), body)
    }

    fn stop(v: &Value) -> Result<Option<Stop>, String> {
        Ok(match v.as_str() {
            None => None,
            Some("stop") => Some(Stop::Stop),
            Some("length") => Some(Stop::Length),
            Some("tool_calls") => Some(Stop::ToolCalls),
            Some(other) => return Err(format!("finish_reason {other}")),
        })
    }

    fn usage(u: &Value) -> Result<Option<(u64, Option<u64>, u64)>, String> {
        if u.is_null() {
            return Ok(None);
        }
        Ok(Some((
            u64_of(&u["prompt_tokens"], "prompt_tokens")?,
            u["prompt_tokens_details"]["cached_tokens"].as_u64(),
            u64_of(&u["completion_tokens"], "completion_tokens")?,
        )))
    }

    pub fn json(v: &Value) -> Result<Observed, String> {
        if v["object"] != "chat.completion" {
            return Err("object is not chat.completion".into());
        }
        let choice = &v["choices"][0];
        let m = &choice["message"];
        let calls = m["tool_calls"]
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| {
                        let f = &c["function"];
                        str_of(&c["id"], "tool_calls[].id")?;
                        Ok((
                            str_of(&f["name"], "name")?.to_owned(),
                            args_of(str_of(&f["arguments"], "arguments")?)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, String>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Observed {
            text: m["content"].as_str().unwrap_or("").to_owned(),
            reasoning: m["reasoning_content"].as_str().unwrap_or("").to_owned(),
            calls,
            stop: stop(&choice["finish_reason"])?,
            usage: usage(&v["usage"])?,
            ..Observed::default()
        })
    }

    pub fn stream(body: &str, content_type: &str) -> Result<Observed, String> {
        let events = sse(body, content_type)?;
        let Some(((_, last), chunks)) = events.split_last() else {
            return Err("empty stream".into());
        };
        if last != "[DONE]" {
            return Err("the stream does not end with [DONE]".into());
        }
        let mut o = Observed::default();
        let mut calls = Calls::default();
        for (_, data) in chunks {
            let chunk = parse(data)?;
            if chunk["object"] != "chat.completion.chunk" {
                return Err(format!("not a chunk: {data}"));
            }
            if let Some(u) = usage(&chunk["usage"])? {
                o.usage = Some(u);
            }
            let Some(choice) = chunk["choices"].get(0) else {
                continue;
            };
            let d = &choice["delta"];
            o.text.push_str(d["content"].as_str().unwrap_or(""));
            o.reasoning
                .push_str(d["reasoning_content"].as_str().unwrap_or(""));
            for c in d["tool_calls"].as_array().into_iter().flatten() {
                let f = &c["function"];
                calls.piece(
                    u64_of(&c["index"], "tool_calls[].index")?,
                    f["name"].as_str(),
                    f["arguments"].as_str().unwrap_or(""),
                );
            }
            if let Some(s) = stop(&choice["finish_reason"])? {
                o.stop = Some(s);
            }
        }
        o.calls = calls.done()?;
        Ok(o)
    }
}

mod anthropic {
    use super::*;

    pub fn request(ask: &Ask, model: &str, stream: bool) -> (String, Value) {
        let content = match &ask.image {
            Some((mime, data)) => json!([
                { "type": "text", "text": ask.user },
                { "type": "image", "source": { "type": "base64", "media_type": mime, "data": data } }
            ]),
            None => json!(ask.user),
        };
        let mut messages = vec![json!({ "role": "user", "content": content })];
        if ask.tool_result {
            messages.push(json!({ "role": "assistant", "content": [{
                "type": "tool_use", "id": "call_w1", "name": "get_weather", "input": { "city": "Paris" } }] }));
            messages.push(json!({ "role": "user", "content": [{
                "type": "tool_result", "tool_use_id": "call_w1", "content": TOOL_RESULT }] }));
        }
        let mut body = json!({ "model": model, "messages": messages, "stream": stream,
                               "max_tokens": ask.max_tokens.unwrap_or(1000) });
        if let Some(system) = &ask.system {
            body["system"] = json!(system);
        }
        if ask.tools {
            body["tools"] = tools()
                .iter()
                .map(|(name, description, schema)| {
                    json!({ "name": name, "description": description, "input_schema": schema })
                })
                .collect();
        }
        if let Some(schema) = &ask.schema {
            body["output_format"] = json!({ "type": "json_schema", "schema": schema });
        }
        if ask.reasoning {
            body["thinking"] = json!({ "type": "enabled", "budget_tokens": 2048 });
        }
        ("/v1/messages".into(), body)
    }

    fn stop(v: &Value) -> Result<Option<Stop>, String> {
        Ok(match v.as_str() {
            None => None,
            Some("end_turn") => Some(Stop::Stop),
            Some("max_tokens") => Some(Stop::Length),
            Some("tool_use") => Some(Stop::ToolCalls),
            Some(other) => return Err(format!("stop_reason {other}")),
        })
    }

    /// (input without cache, cache reads, cache writes, output) of a usage object.
    fn counts(u: &Value) -> [Option<u64>; 4] {
        [
            u["input_tokens"].as_u64(),
            u["cache_read_input_tokens"].as_u64(),
            u["cache_creation_input_tokens"].as_u64(),
            u["output_tokens"].as_u64(),
        ]
    }

    fn usage(c: [Option<u64>; 4]) -> Result<(u64, Option<u64>, u64), String> {
        let input = c[0].ok_or("usage.input_tokens missing")?;
        let read = c[1].unwrap_or(0);
        let output = c[3].ok_or("usage.output_tokens missing")?;
        Ok((input + read + c[2].unwrap_or(0), Some(read), output))
    }

    pub fn json(v: &Value) -> Result<Observed, String> {
        if v["type"] != "message" || v["role"] != "assistant" {
            return Err("not an assistant message".into());
        }
        let mut o = Observed::default();
        for block in v["content"].as_array().ok_or("no content")? {
            match block["type"].as_str() {
                Some("text") => o.text.push_str(str_of(&block["text"], "text")?),
                Some("thinking") => o
                    .reasoning
                    .push_str(str_of(&block["thinking"], "thinking")?),
                Some("tool_use") => {
                    str_of(&block["id"], "tool_use.id")?;
                    o.calls.push((
                        str_of(&block["name"], "name")?.to_owned(),
                        block["input"].clone(),
                    ));
                }
                other => return Err(format!("content block {other:?}")),
            }
        }
        o.stop = stop(&v["stop_reason"])?;
        o.usage = Some(usage(counts(&v["usage"]))?);
        Ok(o)
    }

    pub fn stream(body: &str, content_type: &str) -> Result<Observed, String> {
        let mut o = Observed::default();
        let mut calls = Calls::default();
        let mut usage_counts = [None; 4];
        let mut ended = false;
        let mut stopped = Vec::new();
        for (name, data) in sse(body, content_type)? {
            let e = parse(&data)?;
            let kind = str_of(&e["type"], "type")?;
            if name.as_deref() != Some(kind) {
                return Err(format!("event name {name:?} for a {kind} event"));
            }
            let merge = |counts: &mut [Option<u64>; 4], u: &Value| {
                for (slot, new) in counts.iter_mut().zip(self::counts(u)) {
                    if new.is_some() {
                        *slot = new;
                    }
                }
            };
            match kind {
                "message_start" => merge(&mut usage_counts, &e["message"]["usage"]),
                "content_block_start" => {
                    let block = &e["content_block"];
                    if block["type"] == "tool_use" {
                        calls.piece(u64_of(&e["index"], "index")?, block["name"].as_str(), "");
                    }
                }
                "content_block_delta" => {
                    if stopped.contains(&e["index"]) {
                        return Err(format!("a delta after its block stopped: {data}"));
                    }
                    let d = &e["delta"];
                    match d["type"].as_str() {
                        Some("text_delta") => o.text.push_str(str_of(&d["text"], "text")?),
                        Some("thinking_delta") => {
                            o.reasoning.push_str(str_of(&d["thinking"], "thinking")?)
                        }
                        Some("input_json_delta") => calls.piece(
                            u64_of(&e["index"], "index")?,
                            None,
                            str_of(&d["partial_json"], "partial_json")?,
                        ),
                        Some("signature_delta") => {}
                        other => return Err(format!("delta {other:?}")),
                    }
                }
                "message_delta" => {
                    o.stop = stop(&e["delta"]["stop_reason"])?;
                    merge(&mut usage_counts, &e["usage"]);
                }
                "message_stop" => ended = true,
                "content_block_stop" => stopped.push(e["index"].clone()),
                "ping" => {}
                other => return Err(format!("event {other}")),
            }
        }
        if !ended {
            return Err("no message_stop".into());
        }
        o.calls = calls.done()?;
        o.usage = Some(usage(usage_counts)?);
        Ok(o)
    }

    pub fn error(v: &Value, _status: u16) -> Result<ErrorSeen, String> {
        if v["type"] != "error" {
            return Err("type is not error".into());
        }
        Ok(ErrorSeen {
            message: str_of(&v["error"]["message"], "error.message")?.to_owned(),
            kind: str_of(&v["error"]["type"], "error.type")?.to_owned(),
        })
    }
}

mod responses {
    use super::*;

    pub fn request(ask: &Ask, model: &str, stream: bool) -> (String, Value) {
        let mut content = vec![json!({ "type": "input_text", "text": ask.user })];
        if let Some((mime, data)) = &ask.image {
            content.push(
                json!({ "type": "input_image", "image_url": format!("data:{mime};base64,{data}") }),
            );
        }
        let mut input = vec![json!({ "type": "message", "role": "user", "content": content })];
        if ask.tool_result {
            input.push(json!({ "type": "function_call", "call_id": "call_w1",
                               "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" }));
            input.push(
                json!({ "type": "function_call_output", "call_id": "call_w1", "output": TOOL_RESULT }),
            );
        }
        let mut body = json!({ "model": model, "input": input, "stream": stream });
        if let Some(system) = &ask.system {
            body["instructions"] = json!(system);
        }
        if ask.tools {
            body["tools"] = tools()
                .iter()
                .map(|(name, description, parameters)| {
                    json!({ "type": "function", "name": name, "description": description,
                            "parameters": parameters })
                })
                .collect();
        }
        if let Some(schema) = &ask.schema {
            body["text"] = json!({ "format": {
                "type": "json_schema", "name": "city", "schema": schema, "strict": true } });
        }
        if ask.reasoning {
            body["reasoning"] = json!({ "effort": "high", "summary": "auto" });
        }
        if let Some(n) = ask.max_tokens {
            body["max_output_tokens"] = json!(n);
        }
        ("/v1/responses".into(), body)
    }

    /// Text, reasoning and calls of a response's output items.
    fn output(resp: &Value, o: &mut Observed) -> Result<(), String> {
        for item in resp["output"].as_array().ok_or("no output")? {
            match item["type"].as_str() {
                Some("message") => {
                    for part in item["content"].as_array().ok_or("no content")? {
                        o.text.push_str(str_of(&part["text"], "output_text.text")?);
                    }
                }
                Some("reasoning") => {
                    for s in item["summary"].as_array().into_iter().flatten() {
                        o.reasoning.push_str(str_of(&s["text"], "summary.text")?);
                    }
                }
                Some("function_call") => {
                    str_of(&item["call_id"], "call_id")?;
                    o.calls.push((
                        str_of(&item["name"], "name")?.to_owned(),
                        args_of(str_of(&item["arguments"], "arguments")?)?,
                    ));
                }
                other => return Err(format!("output item {other:?}")),
            }
        }
        Ok(())
    }

    /// The stop reason and usage of a final response object.
    fn ending(resp: &Value, has_calls: bool, o: &mut Observed) -> Result<(), String> {
        o.stop = Some(match resp["status"].as_str() {
            Some("completed") if has_calls => Stop::ToolCalls,
            Some("completed") => Stop::Stop,
            Some("incomplete") if resp["incomplete_details"]["reason"] == "max_output_tokens" => {
                Stop::Length
            }
            other => return Err(format!("status {other:?}")),
        });
        let u = &resp["usage"];
        o.usage = Some((
            u64_of(&u["input_tokens"], "input_tokens")?,
            u["input_tokens_details"]["cached_tokens"].as_u64(),
            u64_of(&u["output_tokens"], "output_tokens")?,
        ));
        Ok(())
    }

    pub fn json(v: &Value) -> Result<Observed, String> {
        if v["object"] != "response" {
            return Err("object is not response".into());
        }
        let mut o = Observed::default();
        output(v, &mut o)?;
        ending(v, !o.calls.is_empty(), &mut o)?;
        Ok(o)
    }

    /// Text, reasoning and calls from the deltas; stop reason and usage from the final
    /// response. The final response's output must say the same as the deltas.
    pub fn stream(body: &str, content_type: &str) -> Result<Observed, String> {
        let mut o = Observed::default();
        let mut calls = Calls::default();
        let mut last = None;
        for (name, data) in sse(body, content_type)? {
            let e = parse(&data)?;
            let kind = str_of(&e["type"], "type")?.to_owned();
            if name.as_deref() != Some(kind.as_str()) {
                return Err(format!("event name {name:?} for a {kind} event"));
            }
            match kind.as_str() {
                "response.output_text.delta" => o.text.push_str(str_of(&e["delta"], "delta")?),
                "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                    o.reasoning.push_str(str_of(&e["delta"], "delta")?)
                }
                "response.output_item.added" if e["item"]["type"] == "function_call" => calls
                    .piece(
                        u64_of(&e["output_index"], "output_index")?,
                        e["item"]["name"].as_str(),
                        "",
                    ),
                "response.function_call_arguments.delta" => calls.piece(
                    u64_of(&e["output_index"], "output_index")?,
                    None,
                    str_of(&e["delta"], "delta")?,
                ),
                "response.completed" | "response.incomplete" | "response.failed" => {
                    last = Some(e["response"].clone())
                }
                _ => {}
            }
        }
        o.calls = calls.done()?;
        let last = last.ok_or("no response.completed")?;
        let mut whole = Observed::default();
        output(&last, &mut whole)?;
        if (&whole.text, &whole.reasoning, &whole.calls) != (&o.text, &o.reasoning, &o.calls) {
            return Err(format!(
                "the final response {whole:?} differs from the deltas"
            ));
        }
        ending(&last, !o.calls.is_empty(), &mut o)?;
        Ok(o)
    }
}

mod gemini {
    use super::*;

    pub fn request(ask: &Ask, model: &str, stream: bool) -> (String, Value) {
        let mut parts = vec![json!({ "text": ask.user })];
        if let Some((mime, data)) = &ask.image {
            parts.push(json!({ "inlineData": { "mimeType": mime, "data": data } }));
        }
        let mut contents = vec![json!({ "role": "user", "parts": parts })];
        if ask.tool_result {
            contents.push(json!({ "role": "model", "parts": [
                { "functionCall": { "name": "get_weather", "args": { "city": "Paris" } } }] }));
            contents.push(json!({ "role": "user", "parts": [
                { "functionResponse": { "name": "get_weather", "response": { "result": TOOL_RESULT } } }] }));
        }
        let mut body = json!({ "contents": contents });
        if let Some(system) = &ask.system {
            body["systemInstruction"] = json!({ "parts": [{ "text": system }] });
        }
        if ask.tools {
            let declarations: Vec<Value> = tools()
                .iter()
                .map(|(name, description, parameters)| {
                    json!({ "name": name, "description": description, "parameters": parameters })
                })
                .collect();
            body["tools"] = json!([{ "functionDeclarations": declarations }]);
        }
        let mut config = Map::new();
        if let Some(schema) = &ask.schema {
            config.insert("responseMimeType".into(), json!("application/json"));
            config.insert("responseJsonSchema".into(), schema.clone());
        }
        if ask.reasoning {
            config.insert(
                "thinkingConfig".into(),
                json!({ "thinkingBudget": 2048, "includeThoughts": true }),
            );
        }
        if let Some(n) = ask.max_tokens {
            config.insert("maxOutputTokens".into(), json!(n));
        }
        if !config.is_empty() {
            body["generationConfig"] = Value::Object(config);
        }
        let method = if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        (format!("/v1beta/models/{model}:{method}"), body)
    }

    /// Folds one response (or stream chunk) into `o`.
    fn fold(v: &Value, o: &mut Observed) -> Result<(), String> {
        let candidate = &v["candidates"][0];
        for part in candidate["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(text) = part["text"].as_str() {
                if part["thought"] == true {
                    o.reasoning.push_str(text);
                } else {
                    o.text.push_str(text);
                }
            } else if let Some(call) = part.get("functionCall") {
                o.calls.push((
                    str_of(&call["name"], "functionCall.name")?.to_owned(),
                    call["args"].clone(),
                ));
            } else if part.get("thoughtSignature").is_none() {
                return Err(format!("part {part}"));
            }
        }
        match candidate["finishReason"].as_str() {
            None => {}
            Some("STOP") => o.stop = Some(Stop::Stop),
            Some("MAX_TOKENS") => o.stop = Some(Stop::Length),
            Some(other) => return Err(format!("finishReason {other}")),
        }
        let u = &v["usageMetadata"];
        if !u.is_null() {
            o.usage = Some((
                u64_of(&u["promptTokenCount"], "promptTokenCount")?,
                u["cachedContentTokenCount"].as_u64(),
                u["candidatesTokenCount"].as_u64().unwrap_or(0)
                    + u["thoughtsTokenCount"].as_u64().unwrap_or(0),
            ));
        }
        Ok(())
    }

    /// Gemini has no tool-call stop reason: `STOP` with calls is one.
    fn calls_stop(o: &mut Observed) {
        if o.stop == Some(Stop::Stop) && !o.calls.is_empty() {
            o.stop = Some(Stop::ToolCalls);
        }
    }

    pub fn json(v: &Value) -> Result<Observed, String> {
        let mut o = Observed::default();
        fold(v, &mut o)?;
        calls_stop(&mut o);
        Ok(o)
    }

    pub fn stream(body: &str, content_type: &str) -> Result<Observed, String> {
        let mut o = Observed::default();
        for (name, data) in sse(body, content_type)? {
            if name.is_some() {
                return Err("Gemini events have no name".into());
            }
            fold(&parse(&data)?, &mut o)?;
        }
        calls_stop(&mut o);
        Ok(o)
    }

    pub fn error(v: &Value, status: u16) -> Result<ErrorSeen, String> {
        let e = &v["error"];
        if e["code"].as_u64() != Some(u64::from(status)) {
            return Err(format!("error.code {} for status {status}", e["code"]));
        }
        Ok(ErrorSeen {
            message: str_of(&e["message"], "error.message")?.to_owned(),
            kind: str_of(&e["status"], "error.status")?.to_owned(),
        })
    }
}

mod ollama {
    use super::*;

    pub fn request(ask: &Ask, model: &str, stream: bool) -> (String, Value) {
        let mut messages = Vec::new();
        if let Some(system) = &ask.system {
            messages.push(json!({ "role": "system", "content": system }));
        }
        let mut user = json!({ "role": "user", "content": ask.user });
        if let Some((_, data)) = &ask.image {
            user["images"] = json!([data]);
        }
        messages.push(user);
        if ask.tool_result {
            messages.push(json!({ "role": "assistant", "content": "", "tool_calls": [
                { "function": { "name": "get_weather", "arguments": { "city": "Paris" } } }] }));
            messages.push(
                json!({ "role": "tool", "tool_name": "get_weather", "content": TOOL_RESULT }),
            );
        }
        let mut body = json!({ "model": model, "messages": messages, "stream": stream });
        if ask.tools {
            body["tools"] = tools()
                .iter()
                .map(|(name, description, parameters)| {
                    json!({ "type": "function", "function": {
                        "name": name, "description": description, "parameters": parameters } })
                })
                .collect();
        }
        if let Some(schema) = &ask.schema {
            body["format"] = schema.clone();
        }
        if ask.reasoning {
            body["think"] = json!(true);
        }
        if let Some(n) = ask.max_tokens {
            body["options"] = json!({ "num_predict": n });
        }
        ("/api/chat".into(), body)
    }

    fn fold(v: &Value, o: &mut Observed) -> Result<(), String> {
        let m = &v["message"];
        o.text.push_str(m["content"].as_str().unwrap_or(""));
        o.reasoning.push_str(m["thinking"].as_str().unwrap_or(""));
        for c in m["tool_calls"].as_array().into_iter().flatten() {
            let f = &c["function"];
            o.calls.push((
                str_of(&f["name"], "function.name")?.to_owned(),
                f["arguments"].clone(),
            ));
        }
        if v["done"] == true {
            o.stop = Some(match v["done_reason"].as_str() {
                Some("stop") if !o.calls.is_empty() => Stop::ToolCalls,
                Some("stop") => Stop::Stop,
                Some("length") => Stop::Length,
                other => return Err(format!("done_reason {other:?}")),
            });
            o.usage = Some((
                u64_of(&v["prompt_eval_count"], "prompt_eval_count")?,
                None,
                u64_of(&v["eval_count"], "eval_count")?,
            ));
        }
        Ok(())
    }

    pub fn json(v: &Value) -> Result<Observed, String> {
        if v["done"] != true {
            return Err("done is not true".into());
        }
        let mut o = Observed::default();
        fold(v, &mut o)?;
        Ok(o)
    }

    pub fn stream(body: &str, content_type: &str) -> Result<Observed, String> {
        if !content_type.starts_with("application/x-ndjson") {
            return Err(format!("content type {content_type}, not NDJSON"));
        }
        let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut o = Observed::default();
        for (i, line) in lines.iter().enumerate() {
            let v = parse(line)?;
            if (v["done"] == true) != (i + 1 == lines.len()) {
                return Err("done must be true on the last line only".into());
            }
            fold(&v, &mut o)?;
        }
        Ok(o)
    }

    pub fn error(v: &Value, _status: u16) -> Result<ErrorSeen, String> {
        Ok(ErrorSeen {
            message: str_of(&v["error"], "error")?.to_owned(),
            kind: String::new(),
        })
    }
}
