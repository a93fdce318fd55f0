//! A non-streamed answer, translated: the upstream's JSON body is read (bounded), decoded to
//! canonical and encoded in the client's dialect with the client's model name. Nothing is
//! sent before the whole answer is in, so any failure can still fall back.

use bytes::Bytes;
use futures_util::Stream;
use wire::{Dialect, WireFormat};

use super::super::{RelayCtx, RelayError, next_piece};
use super::embedded_error;
use crate::error::GatewayError;
use crate::telemetry::Outcome;

/// The largest upstream JSON answer translated.
const MAX_BODY: usize = 64 << 20;

pub(super) fn translate(
    upstream: reqwest::Response,
    mut ctx: RelayCtx,
    wire: WireFormat,
    client: Dialect,
    post: super::post::Post,
    responses: Option<wire::responses::ResponseObject>,
    ollama_generate: bool,
) -> impl Stream<Item = Result<Bytes, RelayError>> + Send + 'static {
    async_stream::stream! {
        let mut body = Box::pin(upstream.bytes_stream());
        let mut buf = Vec::new();
        let read = loop {
            match next_piece(&mut body, &ctx).await {
                Ok(Some(piece)) if buf.len() + piece.len() <= MAX_BODY => buf.extend_from_slice(&piece),
                Ok(Some(_)) => break Err(protocol(&ctx, format!("the response is larger than {MAX_BODY} bytes"))),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        let rendered = read.and_then(|()| render(&buf, &mut ctx, wire, client, &post, responses, ollama_generate));
        match rendered {
            Ok(out) => {
                ctx.exchange.mark_first_byte();
                ctx.exchange.finish(Outcome::Completed);
                yield Ok(out);
            }
            Err(e) => yield Err(ctx.before_start(e)),
        }
    }
}

fn protocol(ctx: &RelayCtx, detail: String) -> GatewayError {
    GatewayError::UpstreamProtocol {
        provider: ctx.provider.clone(),
        detail,
    }
}

fn render(
    body: &[u8],
    ctx: &mut RelayCtx,
    wire: WireFormat,
    client: Dialect,
    post: &super::post::Post,
    // Responses clients: the response the answer fills in (id, echoed settings).
    responses: Option<wire::responses::ResponseObject>,
    // Ollama clients: the answer is `/api/generate`'s, not `/api/chat`'s.
    ollama_generate: bool,
) -> Result<Bytes, GatewayError> {
    let mut canonical = match wire {
        WireFormat::OpenAi => {
            let upstream: wire::openai::ChatCompletionResponse = serde_json::from_slice(body)
                .map_err(|e| {
                    protocol(ctx, format!("the response is not a chat completion: {e}"))
                })?;
            if let Some(err) = embedded_error(&ctx.provider, &upstream.extra) {
                return Err(err);
            }
            wire::openai::codec::decode_response(&upstream)
        }
        WireFormat::Anthropic => {
            let upstream: wire::anthropic::MessagesResponse = serde_json::from_slice(body)
                .map_err(|e| protocol(ctx, format!("the response is not a message: {e}")))?;
            wire::anthropic::codec::decode_response(&upstream)
        }
        WireFormat::Gemini => {
            let upstream: wire::gemini::GenerateContentResponse = serde_json::from_slice(body)
                .map_err(|e| {
                    protocol(
                        ctx,
                        format!("the response is not a generateContent answer: {e}"),
                    )
                })?;
            if let Some(err) = embedded_error(&ctx.provider, &upstream.extra) {
                return Err(err);
            }
            wire::gemini::codec::decode_response(&upstream)
        }
        WireFormat::Ollama => {
            if let Some(message) = super::ollama_error(body) {
                return Err(GatewayError::Upstream {
                    provider: ctx.provider.clone(),
                    status: http::StatusCode::BAD_GATEWAY,
                    message,
                    openai_body: None,
                    retry_after: None,
                });
            }
            let upstream: wire::ollama::ChatResponse = serde_json::from_slice(body)
                .map_err(|e| protocol(ctx, format!("the response is not a chat answer: {e}")))?;
            wire::ollama::codec::decode_response(&upstream)
        }
    };
    post.response(&mut canonical);
    canonical.model.clone_from(&ctx.client_model);
    ctx.exchange.usage = Some(canonical.usage);
    let internal = |e: serde_json::Error| GatewayError::Internal(e.to_string());
    match client {
        Dialect::Responses => serde_json::to_vec(&wire::responses::codec::encode_response(
            &canonical,
            responses.unwrap_or_else(|| {
                wire::responses::ResponseObject::new("resp_unknown", canonical.model.clone(), 0)
            }),
        )),
        Dialect::Anthropic => {
            serde_json::to_vec(&wire::anthropic::codec::encode_response(&canonical))
        }
        Dialect::Gemini => serde_json::to_vec(&wire::gemini::codec::encode_response(&canonical)),
        Dialect::OpenAi => {
            let created = crate::usage::unix_ms(std::time::SystemTime::now()) / 1000;
            serde_json::to_vec(&wire::openai::codec::encode_response(&canonical, created))
        }
        Dialect::Ollama => {
            crate::ingress::ollama::render::json(&canonical, &ctx.exchange, ollama_generate)
        }
    }
    .map(Bytes::from)
    .map_err(internal)
}
