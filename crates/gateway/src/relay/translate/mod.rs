//! The translation path, beside the same-dialect fast path: the client's body is decoded into
//! the canonical model once, encoded for each target's wire format, and the upstream's answer
//! decoded back to canonical and encoded in the client's dialect — a JSON body whole, a stream
//! event by event as it arrives (`stream`). Fallback, admission and accounting are the fast
//! path's own loop in `passthrough`; only the body of each attempt and the relay differ.
//!
//! Pairs: every client dialect to an OpenAI-compatible, Anthropic, Gemini or Ollama upstream
//! (an OpenAI client to an OpenAI upstream is the fast path, unless the model is configured
//! with `think_tags` or the provider with `inline_images`). An Anthropic client reaching an
//! Anthropic upstream goes through the canonical model too (its unknown fields ride in the
//! passthrough bag), not byte for byte. Between decoding and encoding an answer, `post`
//! unwraps structured output and extracts inline `<think>` reasoning.

pub mod images;
mod json;
mod post;
mod stream;

use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;
use wire::canonical;
use wire::json::RawObject;
use wire::{Dialect, WireFormat};

use super::passthrough::{Parsed, Source};
use super::{RelayCtx, RelayError};
use crate::auth;
use crate::error::GatewayError;
use crate::providers::openai::Endpoint;
use crate::routing::plan::{Estimate, PlanTarget};
use crate::telemetry::Exchange;

pub(crate) use post::think_tags;

/// Decodes a client's body (in its dialect) into the canonical request.
pub type Decode = fn(&[u8]) -> Result<canonical::Request, GatewayError>;

/// A request decoded from the client's dialect.
pub struct Translated {
    pub request: canonical::Request,
    /// The dialect the answer is rendered in.
    pub client: Dialect,
    /// OpenAI clients: end the stream with the usage chunk (the client asked for it).
    pub include_usage: bool,
}

/// An OpenAI client's body, for a target of another wire format: decoded to canonical.
/// Only chat completions have a canonical form.
pub(super) fn from_openai(
    obj: &RawObject<'_>,
    endpoint: Endpoint,
    include_usage: bool,
) -> Result<Translated, GatewayError> {
    if endpoint != Endpoint::ChatCompletions {
        return Err(GatewayError::InvalidRequest {
            param: "model".into(),
            message: format!(
                "this model's provider speaks another API: only chat completions can be \
                 translated to it, not {}",
                endpoint.label()
            ),
        });
    }
    let invalid = |param: String, message: String| GatewayError::InvalidRequest { param, message };
    let chat: wire::openai::ChatCompletionRequest =
        serde_json::from_slice(&obj.to_vec()).map_err(|e| {
            invalid(
                String::new(),
                format!("the request is not a chat request: {e}"),
            )
        })?;
    let request =
        wire::openai::codec::decode_request(&chat).map_err(|e| invalid(e.field, e.message))?;
    Ok(Translated {
        request,
        client: Dialect::OpenAi,
        include_usage,
    })
}

/// Parses a body of another dialect: the counterpart of the fast path's `parse`.
pub(super) fn parse<'b>(
    principal: auth::Principal,
    client: Dialect,
    decode: Decode,
    body: &'b Bytes,
    exchange: &mut Exchange,
) -> Result<Parsed<'b>, GatewayError> {
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
        anthropic_beta: None,
        body: Source::Translated(Box::new(Translated {
            request,
            client,
            include_usage: false,
        })),
    })
}

/// The upstream body for one target: the canonical request encoded in the target's wire
/// format for the target's model, with the target's params (where the client set none) and
/// overrides applied to it.
///
/// For OpenAI upstreams, reasoning is sent only to models whose capabilities include `reasoning` (OpenAI rejects
/// `reasoning_effort` for other models); for those, the length limit goes as
/// `max_completion_tokens`, the only form OpenAI's reasoning models accept.
pub(super) fn upstream_body(
    t: &Translated,
    target: &PlanTarget<'_>,
) -> Result<Vec<u8>, GatewayError> {
    let internal = |e: serde_json::Error| GatewayError::Internal(e.to_string());
    let mut value = match target.provider.wire_format {
        WireFormat::OpenAi => {
            dropped(t, target, wire::openai::codec::UNSUPPORTED_SAMPLING);
            serde_json::to_value(wire::openai::codec::encode_request(&t.request))
        }
        WireFormat::Anthropic => {
            dropped(t, target, wire::anthropic::codec::UNSUPPORTED_SAMPLING);
            // Anthropic requires max_tokens: the catalog's maximum output, else 4096.
            let default_max = target
                .provider
                .models
                .get(target.model)
                .and_then(|m| m.max_output_tokens)
                .unwrap_or(4096);
            serde_json::to_value(wire::anthropic::codec::encode_request(
                &t.request,
                default_max,
            ))
        }
        WireFormat::Gemini => serde_json::to_value(wire::gemini::codec::encode_request(&t.request)),
        WireFormat::Ollama => serde_json::to_value(wire::ollama::codec::encode_chat(&t.request)),
    }
    .map_err(internal)?;
    let Some(obj) = value.as_object_mut() else {
        return Err(GatewayError::Internal("a request is not an object".into()));
    };
    // The gateway's own markers in the passthrough bag (a Gemini client's stream framing and
    // thoughts choice) are never sent upstream.
    obj.retain(|key, _| !key.starts_with("$switchboard_"));
    match target.provider.wire_format {
        WireFormat::OpenAi => openai_reasoning(obj, target),
        WireFormat::Anthropic => {}
        // Gemini names the model in the path; its sampling settings sit in `generationConfig`.
        WireFormat::Gemini => {
            obj.remove("model");
            nested_params(obj, target, "generationConfig", gemini_config_key);
            return serde_json::to_vec(&value).map_err(internal);
        }
        WireFormat::Ollama => {
            nested_params(obj, target, "options", ollama_option_key);
            obj.insert("model".into(), Value::from(target.model));
            return serde_json::to_vec(&value).map_err(internal);
        }
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

/// A target's params (where the client set none) and overrides, for a wire format that
/// keeps its sampling settings in one nested object (Gemini's `generationConfig`, Ollama's
/// `options`): the keys `place` names go there under the format's own name, a lone stop
/// string as a list; any other key is a top-level field as written (e.g. `safetySettings`,
/// `keep_alive`).
fn nested_params(
    obj: &mut serde_json::Map<String, Value>,
    target: &PlanTarget<'_>,
    nest: &str,
    place: fn(&str) -> Option<&'static str>,
) {
    let settable = |key: &str| key != "model" && key != "stream";
    let sets = target
        .params
        .into_iter()
        .flatten()
        .map(|kv| (kv, false))
        .chain(target.overrides.into_iter().flatten().map(|kv| (kv, true)));
    for ((key, v), overrides) in sets {
        if !settable(key) {
            continue;
        }
        let (map, name) = match place(key) {
            Some(name) => {
                let inner = obj
                    .entry(nest)
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if !inner.is_object() {
                    *inner = Value::Object(serde_json::Map::new());
                }
                match inner.as_object_mut() {
                    Some(inner) => (inner, name),
                    None => continue,
                }
            }
            None => (&mut *obj, key.as_str()),
        };
        if overrides || !map.contains_key(name) {
            let v = match (name, v) {
                ("stopSequences" | "stop", Value::String(s)) => Value::from(vec![s.clone()]),
                _ => v.clone(),
            };
            map.insert(name.to_owned(), v);
        }
    }
}

/// Where an OpenAI-named setting goes in Gemini's `generationConfig` (its own names pass).
fn gemini_config_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "temperature" => "temperature",
        "seed" => "seed",
        "top_p" | "topP" => "topP",
        "top_k" | "topK" => "topK",
        "max_tokens" | "max_completion_tokens" | "maxOutputTokens" => "maxOutputTokens",
        "stop" | "stopSequences" => "stopSequences",
        "presence_penalty" | "presencePenalty" => "presencePenalty",
        "frequency_penalty" | "frequencyPenalty" => "frequencyPenalty",
        _ => return None,
    })
}

/// Where an OpenAI-named setting goes in Ollama's `options` (its own names pass).
fn ollama_option_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "temperature" => "temperature",
        "seed" => "seed",
        "top_p" => "top_p",
        "top_k" => "top_k",
        "max_tokens" | "max_completion_tokens" | "num_predict" => "num_predict",
        "num_ctx" => "num_ctx",
        "stop" => "stop",
        "presence_penalty" => "presence_penalty",
        "frequency_penalty" => "frequency_penalty",
        "repeat_penalty" => "repeat_penalty",
        _ => return None,
    })
}

/// Says at debug level which of the client's sampling parameters the target's wire format has
/// no field for, and so are not sent (deliberately, rather than sent to fail).
fn dropped(t: &Translated, target: &PlanTarget<'_>, unsupported: &[&'static str]) {
    let dropped = t.request.sampling.dropped_by(unsupported);
    if !dropped.is_empty() {
        tracing::debug!(
            provider = %target.provider.id,
            wire = ?target.provider.wire_format,
            ?dropped,
            "sampling parameters the upstream does not take are not sent"
        );
    }
}

/// Whether image URLs are fetched and inlined for this target.
pub(crate) fn fetches_images(target: &PlanTarget<'_>) -> bool {
    target.provider.inline_images || images::needs_bytes(target.provider.wire_format)
}

/// [`upstream_body`], with the request's image URLs fetched and inlined first when the target
/// needs image bytes.
pub(super) async fn upstream_body_fetching(
    t: &Translated,
    target: &PlanTarget<'_>,
    policy: &images::FetchPolicy,
) -> Result<Vec<u8>, GatewayError> {
    if !(fetches_images(target) && images::has_urls(&t.request)) {
        return upstream_body(t, target);
    }
    let mut request = t.request.clone();
    images::inline(&mut request, policy).await?;
    let inlined = Translated {
        request,
        client: t.client,
        include_usage: t.include_usage,
    };
    upstream_body(&inlined, target)
}

/// Reasoning goes only to OpenAI models known to reason, with `max_completion_tokens`.
fn openai_reasoning(obj: &mut serde_json::Map<String, Value>, target: &PlanTarget<'_>) {
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
}

/// A relay's output: the client's body, piece by piece.
pub(super) type Relay = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, RelayError>> + Send>>;

/// The relay of the upstream's answer, rendered in the client's dialect, and its content type.
pub(super) fn relay(
    upstream: reqwest::Response,
    ctx: RelayCtx,
    t: &Translated,
    target: &PlanTarget<'_>,
    streaming: bool,
) -> (&'static str, Relay) {
    let wire = target.provider.wire_format;
    let post = post::Post::new(t, target);
    if streaming {
        let pipeline = stream::Pipeline::new(wire, t, &ctx.client_model, post);
        let content_type = match t.client {
            Dialect::Ollama => "application/x-ndjson",
            Dialect::Gemini => crate::ingress::gemini::stream_content_type(&t.request),
            _ => "text/event-stream",
        };
        (
            content_type,
            Box::pin(stream::translate(upstream, ctx, pipeline)),
        )
    } else {
        let responses = (t.client == Dialect::Responses)
            .then(|| crate::ingress::responses::base(&t.request, &ctx.client_model));
        (
            "application/json",
            Box::pin(json::translate(
                upstream,
                ctx,
                wire,
                t.client,
                post,
                responses,
                wire::ollama::codec::is_generate(&t.request),
            )),
        )
    }
}

/// An upstream's error status answer, for a client of another dialect: Anthropic's (and
/// Gemini's) error body is not passed on as if it were an OpenAI one, and its 529 "overloaded" becomes 503,
/// the status every dialect knows (rendered as `overloaded_error` to Anthropic clients).
pub(super) fn upstream_error(err: GatewayError, wire: WireFormat) -> GatewayError {
    match (wire, err) {
        // Gemini's `{"error": {"code", "message", "status"}}` is read for its message; the
        // body is not an OpenAI error to pass on.
        (
            WireFormat::Gemini,
            GatewayError::Upstream {
                provider,
                status,
                message,
                retry_after,
                ..
            },
        ) => GatewayError::Upstream {
            provider,
            status,
            message,
            openai_body: None,
            retry_after,
        },
        (
            WireFormat::Anthropic,
            GatewayError::Upstream {
                provider,
                status,
                message,
                retry_after,
                ..
            },
        ) => GatewayError::Upstream {
            provider,
            status: if status.as_u16() == 529 {
                http::StatusCode::SERVICE_UNAVAILABLE
            } else {
                status
            },
            message,
            openai_body: None,
            retry_after,
        },
        // Ollama's `{"error": "model 'x' not found"}`: its text is the message.
        (
            WireFormat::Ollama,
            GatewayError::Upstream {
                provider,
                status,
                message,
                retry_after,
                ..
            },
        ) => GatewayError::Upstream {
            provider,
            status,
            message: ollama_error(message.as_bytes()).unwrap_or(message),
            openai_body: None,
            retry_after,
        },
        (
            WireFormat::OpenAi | WireFormat::Anthropic | WireFormat::Gemini | WireFormat::Ollama,
            err,
        ) => err,
    }
}

/// The text of Ollama's error object `{"error": "…"}`.
fn ollama_error(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        error: String,
    }
    serde_json::from_slice::<Body>(body).ok().map(|b| b.error)
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
