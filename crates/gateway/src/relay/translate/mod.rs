//! The translation path, beside the same-dialect fast path: the client's body is decoded into
//! the canonical model once, encoded for each target's wire format, and the upstream's answer
//! decoded back to canonical and encoded in the client's dialect — a JSON body whole, a stream
//! event by event as it arrives (`stream`). Fallback, admission and accounting are the fast
//! path's own loop in `passthrough`; only the body of each attempt and the relay differ.
//!
//! Today every provider speaks the OpenAI wire format, so the upstream side is always
//! OpenAI Chat Completions; the client side is Anthropic Messages.

mod json;
mod stream;

use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;
use wire::Dialect;
use wire::canonical;

use super::passthrough::{Parsed, Source};
use super::{RelayCtx, RelayError};
use crate::auth;
use crate::error::GatewayError;
use crate::routing::plan::{Estimate, PlanTarget};
use crate::telemetry::Exchange;

/// Decodes a client's body (in its dialect) into the canonical request.
pub type Decode = fn(&[u8]) -> Result<canonical::Request, GatewayError>;

/// A request decoded from the client's dialect.
pub struct Translated {
    pub request: canonical::Request,
    /// The dialect the answer is rendered in.
    pub client: Dialect,
}

/// Parses a body of another dialect: the counterpart of the fast path's `parse`.
pub(super) fn parse<'b>(
    principal: auth::Principal,
    client: Dialect,
    decode: Decode,
    body: &'b Bytes,
    exchange: &mut Exchange,
) -> Result<Parsed<'b>, GatewayError> {
    exchange.dialect = client;
    let request = decode(body)?;
    exchange.model = Some(request.model.clone());
    exchange.stream = request.stream;
    // The same rough size as the fast path's: ~4 bytes a token in, the maximum out.
    let estimate = Estimate {
        input_tokens: (body.len() / 4) as u64,
        output_tokens: request.sampling.max_tokens.unwrap_or(1024),
    };
    Ok(Parsed {
        principal,
        client_model: request.model.clone(),
        stream: request.stream,
        strip_usage_chunk: false,
        estimate,
        body: Source::Translated(Box::new(Translated { request, client })),
    })
}

/// The upstream body for one target: the canonical request encoded as an OpenAI chat
/// request for the target's model, with the target's params (where the client set none) and
/// overrides applied to it.
///
/// Reasoning is sent only to models whose capabilities include `reasoning` (OpenAI rejects
/// `reasoning_effort` for other models); for those, the length limit goes as
/// `max_completion_tokens`, the only form OpenAI's reasoning models accept.
pub(super) fn upstream_body(
    t: &Translated,
    target: &PlanTarget<'_>,
) -> Result<Vec<u8>, GatewayError> {
    let internal = |e: serde_json::Error| GatewayError::Internal(e.to_string());
    let chat = wire::openai::codec::encode_request(&t.request);
    let mut value = serde_json::to_value(&chat).map_err(internal)?;
    let Some(obj) = value.as_object_mut() else {
        return Err(GatewayError::Internal("a request is not an object".into()));
    };
    let reasons = target
        .provider
        .models
        .get(target.model)
        .is_some_and(|m| m.capabilities.iter().any(|c| c == "reasoning"));
    if reasons {
        if let Some(max) = obj.remove("max_tokens") {
            obj.insert("max_completion_tokens".into(), max);
        }
    } else if obj.remove("reasoning_effort").is_some() {
        tracing::debug!(
            model = target.model,
            "reasoning dropped: the model is not known to reason"
        );
    }
    let settable = |key: &str| key != "model" && key != "stream";
    for (key, v) in target.params.into_iter().flatten() {
        if !obj.contains_key(key) && settable(key) {
            obj.insert(key.clone(), v.clone());
        }
    }
    for (key, v) in target.overrides.into_iter().flatten() {
        if settable(key) {
            obj.insert(key.clone(), v.clone());
        }
    }
    obj.insert("model".into(), Value::from(target.model));
    serde_json::to_vec(&value).map_err(internal)
}

/// A relay's output: the client's body, piece by piece.
pub(super) type Relay = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, RelayError>> + Send>>;

/// The relay of the upstream's answer, rendered in the client's dialect, and its content type.
pub(super) fn relay(
    upstream: reqwest::Response,
    ctx: RelayCtx,
    t: &Translated,
    streaming: bool,
) -> (&'static str, Relay) {
    match (t.client, streaming) {
        (Dialect::Anthropic, true) => (
            "text/event-stream",
            Box::pin(stream::to_anthropic(upstream, ctx)),
        ),
        (Dialect::Anthropic, false) => (
            "application/json",
            Box::pin(json::to_anthropic(upstream, ctx)),
        ),
        // An OpenAI client reaches an OpenAI upstream through the fast path.
        (Dialect::OpenAi, true) => (
            "text/event-stream",
            Box::pin(super::sse_events(upstream, ctx)),
        ),
        (Dialect::OpenAi, false) => (
            "application/json",
            Box::pin(super::json_body(upstream, ctx)),
        ),
    }
}

/// An error object an OpenAI-compatible upstream sent inside a 200 response or stream.
fn embedded_error(provider: &str, extra: &serde_json::Map<String, Value>) -> Option<GatewayError> {
    let error = extra.get("error")?;
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| error.to_string(), str::to_owned);
    Some(GatewayError::Upstream {
        provider: provider.to_owned(),
        status: http::StatusCode::BAD_GATEWAY,
        message,
        openai_body: None,
        retry_after: None,
    })
}
