//! Real-world OpenAI bodies decode into the typed `wire::openai` structs and re-encode to the
//! same JSON value, unknown fields (top level and nested) included.
//!
//! Values are compared after dropping `null` object members on both sides: the API treats
//! `null` and absent alike, and the types omit most `None`s.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use wire::openai::{
    self, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, ChatMessage,
    CompletionRequest, CompletionResponse, ContentPart, EmbeddingRequest, EmbeddingResponse,
    EmbeddingVector, ErrorBody, FinishReason, MessageContent, ModelList, ResponseFormat, Role,
    Stop, TextOrTokens, Tool, ToolCall, ToolChoice,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// Encodes `typed` to JSON text, as sent on the wire, and reads that back as a value.
fn encoded<T: Serialize>(typed: &T) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(&serde_json::to_vec(typed)?)
}

/// Decodes `original` as `T`, re-encodes it and checks the JSON value is unchanged.
fn round_trip<T: DeserializeOwned + Serialize>(original: &Value) -> Result<T, serde_json::Error> {
    let typed: T = serde_json::from_value(original.clone())?;
    let back = encoded(&typed)?;
    assert_eq!(
        strip_nulls(back),
        strip_nulls(original.clone()),
        "round trip changed the value"
    );
    Ok(typed)
}

/// Like [`round_trip`] but decoding from the text, as the gateway does.
fn round_trip_text<T: DeserializeOwned + Serialize>(text: &str) -> Result<T, serde_json::Error> {
    let typed: T = serde_json::from_str(text)?;
    let original: Value = serde_json::from_str(text)?;
    assert_eq!(strip_nulls(encoded(&typed)?), strip_nulls(original));
    Ok(typed)
}

fn fixture(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(text)
}

#[test]
fn chat_request_round_trips_with_vendor_fields() -> TestResult {
    let text = include_str!("fixtures/openai/chat_request.json");
    let req: ChatCompletionRequest = round_trip_text(text)?;

    assert_eq!(req.model, "gpt-4o-2024-08-06");
    assert!(req.is_stream());
    assert!(req.includes_stream_usage());
    assert_eq!(
        req.extra.keys().collect::<Vec<_>>(),
        ["top_k", "repetition_penalty", "provider"]
    );
    let roles: Vec<Role> = req.messages.iter().map(ChatMessage::role).collect();
    assert_eq!(
        roles,
        [
            Role::Developer,
            Role::System,
            Role::User,
            Role::Assistant,
            Role::Tool,
            Role::Assistant,
            Role::Function,
            Role::User
        ]
    );

    // Content parts, with unknown part types and nested vendor fields kept.
    let ChatMessage::System(system) = &req.messages[1] else {
        panic!("system message expected");
    };
    assert_eq!(system.name.as_deref(), Some("clock"));
    let MessageContent::Parts(parts) = &system.content else {
        panic!("parts expected");
    };
    let ContentPart::Text(text_part) = &parts[0] else {
        panic!("text part expected");
    };
    assert_eq!(
        text_part.extra["cache_control"],
        json!({"type": "ephemeral"})
    );

    let ChatMessage::User(user) = &req.messages[2] else {
        panic!("user message expected");
    };
    let MessageContent::Parts(parts) = &user.content else {
        panic!("parts expected");
    };
    assert!(matches!(&parts[0], ContentPart::Text(t) if t.text.starts_with("Where")));
    let ContentPart::ImageUrl(image) = &parts[1] else {
        panic!("image part expected");
    };
    assert_eq!(image.image_url.detail.as_deref(), Some("high"));
    assert!(image.image_url.url.starts_with("data:image/jpeg;base64,"));
    assert_eq!(
        image.image_url.extra["vendor_crop"],
        json!([0, 0, 512, 512])
    );
    assert!(matches!(&parts[2], ContentPart::InputAudio(a) if a.input_audio.format == "wav"));
    let ContentPart::File(file) = &parts[3] else {
        panic!("file part expected");
    };
    assert_eq!(file.file.filename.as_deref(), Some("itinerary.pdf"));
    let ContentPart::Other(video) = &parts[4] else {
        panic!("unknown part kept as Other");
    };
    assert_eq!(video["type"], "video_url");
    assert_eq!(
        user.content.text_parts().next(),
        Some("Where was this photo taken, and what's the weather there now?")
    );

    // Assistant history: tool calls (function and unknown type) and reasoning.
    let ChatMessage::Assistant(assistant) = &req.messages[3] else {
        panic!("assistant message expected");
    };
    assert_eq!(assistant.content, None);
    assert!(assistant.reasoning_content.is_some());
    let calls = assistant.tool_calls.as_deref().unwrap_or_default();
    let ToolCall::Function(call) = &calls[0] else {
        panic!("function call expected");
    };
    assert_eq!(call.id, "call_abc123");
    assert_eq!(call.function.name, "get_weather");
    assert!(matches!(&calls[1], ToolCall::Other(v) if v["type"] == "custom"));
    let ChatMessage::Tool(tool) = &req.messages[4] else {
        panic!("tool message expected");
    };
    assert_eq!(tool.tool_call_id, "call_abc123");
    let ChatMessage::User(last) = &req.messages[7] else {
        panic!("user message expected");
    };
    assert_eq!(last.extra["vendor_priority"], "high");

    // Tools, tool choice, response format, stop.
    let tools = req.tools.as_deref().unwrap_or_default();
    let Tool::Function(weather) = &tools[0] else {
        panic!("function tool expected");
    };
    assert_eq!(weather.function.strict, Some(true));
    assert_eq!(weather.function.extra["x-vendor-hint"], "fast");
    assert_eq!(weather.extra["cache_control"], json!({"type": "ephemeral"}));
    assert!(matches!(&tools[1], Tool::Other(v) if v["custom"]["name"] == "sql"));
    assert_eq!(req.tool_choice, Some(ToolChoice::function("get_weather")));
    let Some(ResponseFormat::JsonSchema(format)) = &req.response_format else {
        panic!("json_schema response format expected");
    };
    assert_eq!(format.json_schema.name, "trip_answer");
    assert_eq!(format.json_schema.strict, Some(true));
    assert_eq!(
        req.stop.as_ref().map(Stop::as_slice),
        Some(&["\n\nUser:".to_owned(), "<|end|>".to_owned()][..])
    );
    assert_eq!(
        req.stream_options
            .as_ref()
            .map(|o| o.extra["include_obfuscation"].clone()),
        Some(json!(false))
    );
    assert_eq!(req.temperature, Some(0.2));
    assert_eq!(req.reasoning_effort.as_deref(), Some("medium"));
    Ok(())
}

#[test]
fn assistant_content_null_is_kept_when_re_encoded() -> TestResult {
    let req: ChatCompletionRequest =
        serde_json::from_str(include_str!("fixtures/openai/chat_request.json"))?;
    let back = encoded(&req)?;
    assert_eq!(back["messages"][3]["role"], "assistant");
    assert!(back["messages"][3]["content"].is_null());
    assert!(
        back["messages"][3]
            .as_object()
            .is_some_and(|m| m.contains_key("content"))
    );
    Ok(())
}

#[test]
fn chat_response_round_trips() -> TestResult {
    let resp: ChatCompletionResponse =
        round_trip_text(include_str!("fixtures/openai/chat_response.json"))?;
    assert_eq!(resp.object, "chat.completion");
    assert_eq!(resp.system_fingerprint.as_deref(), Some("fp_a7d06e42a7"));
    assert!(resp.extra.contains_key("prompt_filter_results"));
    let choice = &resp.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert!(choice.extra.contains_key("content_filter_results"));
    assert_eq!(choice.message.role, Role::Assistant);
    assert_eq!(choice.message.content, None);
    let calls = choice.message.tool_calls.as_deref().unwrap_or_default();
    assert_eq!(calls.len(), 2);
    assert!(matches!(&calls[1], ToolCall::Function(c) if c.function.arguments.contains("Lyon")));
    let logprobs = choice.logprobs.as_ref().and_then(|l| l.content.as_deref());
    assert_eq!(logprobs.map(|l| l[0].top_logprobs.len()), Some(2));

    let usage = resp.usage.as_ref().ok_or("usage expected")?;
    assert_eq!(usage.cached_tokens(), 1920);
    assert_eq!(usage.reasoning_tokens(), 256);
    let normalized = wire::Usage::from_openai(usage);
    assert_eq!((normalized.input, normalized.cache_read), (86, 1920));
    assert_eq!((normalized.output, normalized.reasoning), (300, 256));
    Ok(())
}

#[test]
fn stream_chunks_round_trip() -> TestResult {
    let chunks = fixture(include_str!("fixtures/openai/chat_chunks.json"))?;
    let chunks = chunks.as_array().ok_or("array expected")?;
    let mut typed = Vec::new();
    for chunk in chunks {
        typed.push(round_trip::<ChatCompletionChunk>(chunk)?);
    }

    assert_eq!(typed[0].choices[0].delta.role, Some(Role::Assistant));
    assert_eq!(typed[0].extra["obfuscation"], "kX9");
    assert_eq!(typed[2].choices[0].finish_reason, Some(FinishReason::Stop));

    // The final usage-only chunk of `include_usage`.
    assert!(typed[3].choices.is_empty());
    assert_eq!(typed[3].usage.as_ref().map(|u| u.total_tokens), Some(21));

    // Tool call arguments arrive in pieces keyed by index.
    let mut arguments = [String::new(), String::new()];
    for chunk in &typed[4..8] {
        for call in chunk.choices[0].delta.tool_calls.iter().flatten() {
            let piece = call.function.as_ref().and_then(|f| f.arguments.as_deref());
            arguments[call.index as usize].push_str(piece.unwrap_or_default());
        }
    }
    assert_eq!(arguments, ["{\"location\":\"Paris\"}", "{}"]);
    assert_eq!(
        typed[7].choices[0].finish_reason,
        Some(FinishReason::ToolCalls)
    );

    // DeepSeek: reasoning deltas, usage on the last content chunk.
    assert_eq!(
        typed[8].choices[0].delta.reasoning_content.as_deref(),
        Some("Let me think")
    );
    let usage = typed[9].usage.as_ref().ok_or("usage expected")?;
    assert_eq!(wire::Usage::from_openai(usage).reasoning, 60);
    Ok(())
}

#[test]
fn stream_helpers_read_usage_off_chunks() -> TestResult {
    let chunks = fixture(include_str!("fixtures/openai/chat_chunks.json"))?;
    let texts: Vec<String> = chunks
        .as_array()
        .ok_or("array expected")?
        .iter()
        .map(Value::to_string)
        .collect();
    let with_usage: Vec<usize> = (0..texts.len())
        .filter(|&i| openai::stream::chunk_usage(&texts[i]).is_some())
        .collect();
    assert_eq!(with_usage, [3, 9]);
    let usage_only: Vec<usize> = (0..texts.len())
        .filter(|&i| openai::stream::is_usage_only_chunk(&texts[i]))
        .collect();
    assert_eq!(usage_only, [3]);
    assert_eq!(
        openai::stream::chunk_usage(&texts[3]).map(|u| u.prompt_tokens),
        Some(19)
    );
    assert_eq!(openai::stream::chunk_usage("[DONE]"), None);
    assert!(!openai::stream::is_usage_only_chunk("[DONE]"));
    assert!(!openai::stream::is_usage_only_chunk(
        r#"{"choices":[],"usage":null}"#
    ));
    assert!(!openai::stream::is_usage_only_chunk(
        r#"{"usage":{"prompt_tokens":1}}"#
    ));
    Ok(())
}

#[test]
fn embeddings_requests_round_trip() -> TestResult {
    let requests = fixture(include_str!("fixtures/openai/embeddings_request.json"))?;
    let requests = requests.as_array().ok_or("array expected")?;
    let typed: Vec<EmbeddingRequest> = requests.iter().map(round_trip).collect::<Result<_, _>>()?;
    assert!(matches!(typed[0].input, TextOrTokens::Text(_)));
    assert_eq!(typed[0].dimensions, Some(512));
    assert!(matches!(&typed[1].input, TextOrTokens::Texts(t) if t.len() == 2));
    assert_eq!(
        typed[1].encoding_format,
        Some(openai::EncodingFormat::Base64)
    );
    assert_eq!(
        typed[2].input,
        TextOrTokens::Tokens(vec![1820, 25, 3290, 374])
    );
    assert!(matches!(&typed[3].input, TextOrTokens::TokenBatches(b) if b[1].len() == 3));
    assert_eq!(typed[3].extra["input_type"], "query");
    Ok(())
}

#[test]
fn embeddings_responses_round_trip_as_floats_and_base64() -> TestResult {
    let floats: EmbeddingResponse =
        round_trip_text(include_str!("fixtures/openai/embeddings_float.json"))?;
    assert_eq!(floats.extra["id"], "embd-vendor-123");
    assert_eq!(floats.usage.as_ref().map(|u| u.prompt_tokens), Some(8));
    let EmbeddingVector::Float(first) = &floats.data[0].embedding else {
        panic!("float vector expected");
    };

    let base64: EmbeddingResponse =
        round_trip_text(include_str!("fixtures/openai/embeddings_base64.json"))?;
    let EmbeddingVector::Base64(text) = &base64.data[0].embedding else {
        panic!("base64 vector expected");
    };
    assert_eq!(&openai::from_base64(text)?, first);
    assert_eq!(&openai::to_base64(first), text);
    assert_eq!(
        base64.data[0]
            .embedding
            .clone()
            .into_format(openai::EncodingFormat::Float)?,
        EmbeddingVector::Float(first.clone())
    );
    Ok(())
}

#[test]
fn completions_round_trip() -> TestResult {
    let requests = fixture(include_str!("fixtures/openai/completion_request.json"))?;
    let requests = requests.as_array().ok_or("array expected")?;
    let typed: Vec<CompletionRequest> =
        requests.iter().map(round_trip).collect::<Result<_, _>>()?;
    assert_eq!(typed[0].suffix.as_deref(), Some("\n-- end"));
    assert_eq!(typed[0].echo, Some(true));
    assert_eq!(typed[0].best_of, Some(2));
    assert_eq!(typed[0].stop, Some(Stop::One("\n".to_owned())));
    assert!(matches!(typed[1].prompt, Some(TextOrTokens::Texts(_))));
    assert!(typed[1].is_stream());
    assert!(matches!(typed[2].prompt, Some(TextOrTokens::Tokens(_))));
    assert!(matches!(
        typed[3].prompt,
        Some(TextOrTokens::TokenBatches(_))
    ));
    assert_eq!(typed[3].extra["min_p"], 0.05);

    let resp: CompletionResponse =
        round_trip_text(include_str!("fixtures/openai/completion_response.json"))?;
    assert_eq!(resp.choices[0].finish_reason, Some(FinishReason::Length));
    assert_eq!(resp.choices[0].text, "\n\nThis is indeed a test");
    let logprobs = resp.choices[0]
        .logprobs
        .as_ref()
        .ok_or("logprobs expected")?;
    assert_eq!(
        logprobs.token_logprobs.as_deref(),
        Some(&[None, Some(-0.25), Some(-0.5)][..])
    );
    assert_eq!(resp.usage.as_ref().map(|u| u.total_tokens), Some(12));
    Ok(())
}

#[test]
fn models_round_trip() -> TestResult {
    let list: ModelList = round_trip_text(include_str!("fixtures/openai/models.json"))?;
    assert_eq!(list.data[0].id, "gpt-4o");
    assert_eq!(list.data[0].owned_by, "system");
    assert_eq!(list.data[1].extra["context_length"], 65536);
    assert_eq!(list.extra["has_more"], false);
    Ok(())
}

#[test]
fn error_body_round_trips() -> TestResult {
    let body: ErrorBody = round_trip_text(include_str!("fixtures/openai/error.json"))?;
    assert_eq!(body.error.r#type, "invalid_request_error");
    assert_eq!(body.error.code, Some(json!("model_not_found")));
    assert_eq!(body.error.param, None);
    assert_eq!(body.error.extra["request_id"], "req_7f3a");
    Ok(())
}
