//! Targeted behaviour of the `wire::openai` types: how they encode what the gateway builds,
//! and how they treat unknown or malformed input.

use serde_json::{Value, json};
use wire::openai::{
    self, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, ChunkChoice, ContentMessage,
    ContentPart, Delta, EmbeddingDecodeError, EmbeddingVector, ErrorBody, FinishReason,
    MessageContent, Model, ModelList, Role, TextOrTokens, Tool, ToolCall, ToolChoice,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn encoded<T: serde::Serialize>(typed: &T) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(&serde_json::to_vec(typed)?)
}

#[test]
fn minimal_request_encodes_only_what_is_set() -> TestResult {
    let req = ChatCompletionRequest {
        model: "gpt-4o-mini".into(),
        messages: vec![ChatMessage::User(ContentMessage {
            content: "hi".into(),
            ..Default::default()
        })],
        ..Default::default()
    };
    assert_eq!(
        encoded(&req)?,
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    );
    assert!(!req.is_stream());
    Ok(())
}

#[test]
fn chunk_encodes_nullable_fields_like_openai() -> TestResult {
    let chunk = ChatCompletionChunk {
        id: "chatcmpl-1".into(),
        created: 1,
        model: "m".into(),
        choices: vec![ChunkChoice {
            delta: Delta {
                content: Some("Hi".into()),
                ..Default::default()
            },
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        encoded(&chunk)?,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null, "logprobs": null}]
        })
    );
    Ok(())
}

#[test]
fn tool_choice_forms() -> TestResult {
    for (text, expected) in [
        (json!("none"), ToolChoice::None),
        (json!("auto"), ToolChoice::Auto),
        (json!("required"), ToolChoice::Required),
        (
            json!({"type": "function", "function": {"name": "f"}}),
            ToolChoice::function("f"),
        ),
    ] {
        let parsed: ToolChoice = serde_json::from_value(text.clone())?;
        assert_eq!(parsed, expected);
        assert_eq!(encoded(&parsed)?, text);
    }
    let allowed = json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}});
    let parsed: ToolChoice = serde_json::from_value(allowed.clone())?;
    assert_eq!(parsed, ToolChoice::Other(allowed.clone()));
    assert_eq!(encoded(&parsed)?, allowed);
    assert_eq!(
        serde_json::from_value::<ToolChoice>(json!("any"))?,
        ToolChoice::Other(json!("any"))
    );
    Ok(())
}

#[test]
fn tools_and_tool_calls_without_type_are_functions() -> TestResult {
    let tool: Tool = serde_json::from_value(json!({"function": {"name": "f"}}))?;
    assert!(matches!(&tool, Tool::Function(t) if t.function.name == "f"));
    assert_eq!(
        encoded(&tool)?,
        json!({"type": "function", "function": {"name": "f"}})
    );
    let call: ToolCall =
        serde_json::from_value(json!({"id": "c1", "function": {"name": "f", "arguments": "{}"}}))?;
    assert!(matches!(&call, ToolCall::Function(c) if c.id == "c1"));
    Ok(())
}

#[test]
fn content_parts_unknown_and_malformed() -> TestResult {
    // No `type`: kept as is.
    let untyped: ContentPart = serde_json::from_value(json!({"text": "x"}))?;
    assert_eq!(untyped, ContentPart::Other(json!({"text": "x"})));
    // A known type with a wrong shape is an error that names the type.
    let err = serde_json::from_value::<ContentPart>(json!({"type": "image_url", "image_url": 5}))
        .expect_err("malformed image part");
    assert!(err.to_string().contains("image_url"), "{err}");
    // Content is a string or an array, nothing else.
    assert!(serde_json::from_value::<MessageContent>(json!(5)).is_err());
    let parts: MessageContent = serde_json::from_value(
        json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
    )?;
    assert_eq!(parts.text_parts().collect::<Vec<_>>(), ["a", "b"]);
    Ok(())
}

#[test]
fn unknown_role_is_an_error() {
    let err = serde_json::from_value::<ChatMessage>(json!({"role": "robot", "content": "x"}))
        .expect_err("unknown role");
    assert!(err.to_string().contains("robot"), "{err}");
}

#[test]
fn finish_reason_keeps_unknown_values() -> TestResult {
    let reason: FinishReason = serde_json::from_value(json!("eos"))?;
    assert_eq!(reason, FinishReason::Other("eos".into()));
    assert_eq!(encoded(&reason)?, json!("eos"));
    assert_eq!(FinishReason::from("tool_calls"), FinishReason::ToolCalls);
    assert_eq!(FinishReason::ContentFilter.to_string(), "content_filter");
    Ok(())
}

#[test]
fn text_or_tokens_forms() -> TestResult {
    assert_eq!(
        serde_json::from_value::<TextOrTokens>(json!([]))?,
        TextOrTokens::Texts(vec![])
    );
    assert!(serde_json::from_value::<TextOrTokens>(json!(["a", 1])).is_err());
    assert!(serde_json::from_value::<TextOrTokens>(json!([1, "a"])).is_err());
    assert!(serde_json::from_value::<TextOrTokens>(json!([-1])).is_err());
    assert!(serde_json::from_value::<TextOrTokens>(json!([5_000_000_000_u64])).is_err());
    assert!(serde_json::from_value::<TextOrTokens>(json!(1)).is_err());
    Ok(())
}

#[test]
fn base64_embeddings() -> TestResult {
    let floats = [0.5_f32, -1.25, 3.0e-8, f32::MAX];
    let text = openai::to_base64(&floats);
    assert_eq!(openai::from_base64(&text)?, floats);
    assert_eq!(openai::to_base64(&[1.0]), "AACAPw==");
    assert!(matches!(
        openai::from_base64("not base64!"),
        Err(EmbeddingDecodeError::Base64(_))
    ));
    assert_eq!(
        openai::from_base64("AACA"),
        Err(EmbeddingDecodeError::Length(3))
    );
    let vector =
        EmbeddingVector::Float(floats.to_vec()).into_format(openai::EncodingFormat::Base64)?;
    assert_eq!(vector, EmbeddingVector::Base64(text));
    assert_eq!(vector.to_floats()?, floats);
    Ok(())
}

#[test]
fn f64_printed_embeddings_decode_to_the_same_f32() -> TestResult {
    // OpenAI prints each f32 component with f64 digits.
    let x = -0.006_929_283_f32;
    let printed = format!("[{}]", f64::from(x));
    let vector: EmbeddingVector = serde_json::from_str(&printed)?;
    assert_eq!(vector, EmbeddingVector::Float(vec![x]));
    Ok(())
}

#[test]
fn error_body_encodes_like_openai() -> TestResult {
    let body = ErrorBody::new("Rate limit reached", "rate_limit_exceeded");
    assert_eq!(
        encoded(&body)?,
        json!({"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded", "param": null, "code": null}})
    );
    let body = ErrorBody::new("bad model", "invalid_request_error")
        .with_param("model")
        .with_code("model_not_found");
    assert_eq!(encoded(&body)?["error"]["param"], "model");
    assert_eq!(encoded(&body)?["error"]["code"], "model_not_found");
    // Providers that omit `type` or use numeric codes still decode.
    let lenient: ErrorBody =
        serde_json::from_value(json!({"error": {"message": "boom", "code": 500}}))?;
    assert_eq!(lenient.error.code, Some(json!(500)));
    Ok(())
}

#[test]
fn models_encode_like_openai() -> TestResult {
    let list = ModelList::new(vec![Model::new("gpt-4o", "switchboard", 1_700_000_000)]);
    assert_eq!(
        encoded(&list)?,
        json!({"object": "list", "data": [{"id": "gpt-4o", "object": "model", "created": 1_700_000_000, "owned_by": "switchboard"}]})
    );
    // Providers that omit `created` and `owned_by` still decode.
    let sparse: Model = serde_json::from_value(json!({"id": "local"}))?;
    assert_eq!((sparse.created, sparse.owned_by.as_str()), (0, ""));
    Ok(())
}

#[test]
fn roles_have_wire_names() -> TestResult {
    for role in [
        Role::System,
        Role::Developer,
        Role::User,
        Role::Assistant,
        Role::Tool,
        Role::Function,
    ] {
        assert_eq!(encoded(&role)?, json!(role.as_str()));
    }
    Ok(())
}
