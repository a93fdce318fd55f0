//! A streamed answer, translated event by event: each upstream SSE event (an NDJSON line for
//! Ollama upstreams) is decoded into
//! canonical stream events and those are encoded as the client's events at once — nothing
//! is held back beyond what one upstream piece carried. Until the first piece has gone out an
//! upstream failure can still fall back; after that it ends the stream with an error event in
//! the client's dialect. Once the stream has begun, a long silence of the upstream is filled
//! with keep-alives (`[translation] keep_alive`): a `ping` event for Anthropic clients, an SSE
//! comment for other SSE clients (none for NDJSON or JSON-array framings, which have no
//! harmless filler).

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use wire::canonical::{Delta, StreamEvent};
use wire::ndjson::LineDecoder;
use wire::sse::SseDecoder;
use wire::{Dialect, WireFormat, anthropic, gemini, ollama, openai};

use super::super::{RelayCtx, RelayError, next_piece};
use super::{Translated, embedded_error};
use crate::error::GatewayError;
use crate::telemetry::Outcome;

/// The keep-alive of Anthropic streams.
const PING: &[u8] = b"event: ping\ndata: {\"type\":\"ping\"}\n\n";
/// The keep-alive of other SSE streams.
const COMMENT: &[u8] = b": keep-alive\n\n";

/// Reads the upstream's events.
enum Upstream {
    OpenAi(openai::codec::ChunkDecoder),
    Anthropic(anthropic::codec::EventDecoder),
    Gemini(gemini::codec::ChunkDecoder),
    Ollama(ollama::codec::ChunkDecoder),
}

/// How the upstream's body is cut into events.
enum Framing {
    Sse(SseDecoder),
    /// Newline-delimited JSON (Ollama).
    Lines(LineDecoder),
}

/// One upstream event: its SSE name (if any) and data, or one NDJSON line as the data.
struct Frame {
    name: Option<String>,
    data: String,
    /// An SSE keep-alive comment.
    comment: bool,
}

impl Framing {
    fn push(&mut self, piece: &[u8]) {
        match self {
            Self::Sse(d) => d.push(piece),
            Self::Lines(d) => d.push(piece),
        }
    }

    /// The next complete event; at the end, the unterminated last one too.
    fn next(&mut self, at_end: bool) -> Result<Option<Frame>, String> {
        match self {
            Self::Sse(d) => {
                let next = match d.next_event() {
                    Ok(None) if at_end => d.finish(),
                    other => other,
                };
                Ok(next.map_err(|e| e.to_string())?.map(|e| Frame {
                    comment: e.is_comment(),
                    name: e.event,
                    data: e.data,
                }))
            }
            Self::Lines(d) => {
                let next = match d.next_line() {
                    Ok(None) if at_end => d.finish(),
                    other => other,
                };
                Ok(next.map_err(|e| e.to_string())?.map(|data| Frame {
                    name: None,
                    data,
                    comment: false,
                }))
            }
        }
    }
}

/// Writes the client's events.
enum Client {
    OpenAi(openai::codec::ChunkEncoder),
    Anthropic(anthropic::codec::EventEncoder),
    Responses(Box<wire::responses::codec::EventEncoder>),
    Ollama(crate::ingress::ollama::render::Lines),
    Gemini(crate::ingress::gemini::StreamWriter),
}

/// Upstream events in, the client's events out.
pub(super) struct Pipeline {
    framing: Framing,
    upstream: Upstream,
    client: Client,
    /// What fills a silence, for this client's framing.
    keep_alive: Option<&'static [u8]>,
    events: Vec<StreamEvent>,
    post: super::post::Post,
    done: bool,
}

impl Pipeline {
    pub(super) fn new(
        wire: WireFormat,
        t: &Translated,
        client_model: &str,
        post: super::post::Post,
    ) -> Self {
        let upstream = match wire {
            WireFormat::OpenAi => Upstream::OpenAi(openai::codec::ChunkDecoder::new()),
            WireFormat::Anthropic => Upstream::Anthropic(anthropic::codec::EventDecoder::new()),
            WireFormat::Gemini => Upstream::Gemini(gemini::codec::ChunkDecoder::new()),
            WireFormat::Ollama => Upstream::Ollama(ollama::codec::ChunkDecoder::new()),
        };
        let framing = match wire {
            WireFormat::OpenAi | WireFormat::Anthropic | WireFormat::Gemini => {
                Framing::Sse(SseDecoder::new())
            }
            WireFormat::Ollama => Framing::Lines(LineDecoder::new()),
        };
        let client = match t.client {
            Dialect::OpenAi => Client::OpenAi(openai::codec::ChunkEncoder::new(
                client_model,
                crate::usage::unix_ms(std::time::SystemTime::now()) / 1000,
                t.include_usage,
            )),
            Dialect::Anthropic => {
                Client::Anthropic(anthropic::codec::EventEncoder::new(client_model))
            }
            Dialect::Responses => {
                Client::Responses(Box::new(wire::responses::codec::EventEncoder::new(
                    crate::ingress::responses::base(&t.request, client_model),
                )))
            }
            Dialect::Gemini => Client::Gemini(crate::ingress::gemini::StreamWriter::new(
                &t.request,
                client_model,
            )),
            Dialect::Ollama => Client::Ollama(crate::ingress::ollama::render::Lines::new(
                client_model,
                wire::ollama::codec::is_generate(&t.request),
            )),
        };
        let keep_alive: Option<&'static [u8]> = match t.client {
            Dialect::Anthropic => Some(PING),
            Dialect::OpenAi | Dialect::Responses => Some(COMMENT),
            Dialect::Gemini => crate::ingress::gemini::is_sse(&t.request).then_some(COMMENT),
            Dialect::Ollama => None,
        };
        Self {
            framing,
            upstream,
            client,
            keep_alive,
            events: Vec::new(),
            post,
            done: false,
        }
    }
}

pub(super) fn translate(
    upstream: reqwest::Response,
    mut ctx: RelayCtx,
    mut p: Pipeline,
) -> impl Stream<Item = Result<Bytes, RelayError>> + Send + 'static {
    async_stream::stream! {
        let mut body = Box::pin(upstream.bytes_stream());
        let mut started = false;
        loop {
            let mut out = BytesMut::new();
            let next = {
                // Keep-alives only once the response is committed: before, a failure may
                // still fall back. The idle timeout runs on regardless.
                let keep_alive = ctx.keep_alive.zip(p.keep_alive).filter(|_| started);
                let piece = next_piece(&mut body, &ctx);
                tokio::pin!(piece);
                loop {
                    let Some((every, filler)) = keep_alive else {
                        break piece.await;
                    };
                    let silent = tokio::select! {
                        next = &mut piece => break next,
                        () = tokio::time::sleep(every) => true,
                    };
                    if silent {
                        yield Ok(Bytes::from_static(filler));
                    }
                }
            };
            let (at_end, failure) = match next {
                Ok(Some(piece)) => {
                    p.framing.push(&piece);
                    (false, p.drain(false, &mut ctx, &mut out).err())
                }
                Ok(None) => (true, p.drain(true, &mut ctx, &mut out).err()),
                Err(e) => (true, Some(e)),
            };
            if !out.is_empty() {
                started = true;
                ctx.exchange.mark_first_byte();
                yield Ok(out.freeze());
            }
            if let Some(err) = failure {
                if started {
                    ctx.exchange.error = Some(err.to_string());
                    yield Ok(p.error_event(&ctx, &err));
                    ctx.exchange.finish(Outcome::UpstreamFailed);
                } else {
                    yield Err(ctx.before_start(err));
                }
                break;
            }
            if at_end {
                ctx.exchange.finish(Outcome::Completed);
                break;
            }
        }
    }
}

impl Pipeline {
    /// The event ending a stream that failed after it began, in the client's dialect.
    fn error_event(&mut self, ctx: &RelayCtx, err: &GatewayError) -> Bytes {
        match &mut self.client {
            Client::Responses(encoder) => crate::ingress::responses::failure(encoder, err),
            _ => (ctx.error_event)(err),
        }
    }

    /// Translates every complete upstream event (at the end: the unterminated last one too,
    /// and the end of the stream when the upstream never said it ended).
    fn drain(
        &mut self,
        at_end: bool,
        ctx: &mut RelayCtx,
        out: &mut BytesMut,
    ) -> Result<(), GatewayError> {
        loop {
            let event = self
                .framing
                .next(at_end)
                .map_err(|e| protocol(ctx, format!("bad event stream: {e}")))?;
            match event {
                Some(event) => self.event(&event, ctx)?,
                None => break,
            }
            self.emit(ctx, out)?;
        }
        if at_end && !self.done {
            self.done = true;
            self.end();
        }
        self.emit(ctx, out)
    }

    /// The end of the upstream stream, said or not.
    fn end(&mut self) {
        match &mut self.upstream {
            Upstream::OpenAi(d) => d.finish(&mut self.events),
            Upstream::Anthropic(d) => {
                if !d.is_ended() {
                    self.events.push(StreamEvent::End);
                }
            }
            Upstream::Gemini(d) => d.finish(&mut self.events),
            Upstream::Ollama(d) => d.finish(&mut self.events),
        }
    }

    fn event(&mut self, event: &Frame, ctx: &RelayCtx) -> Result<(), GatewayError> {
        if self.done || event.comment || event.data.is_empty() {
            return Ok(());
        }
        match &mut self.upstream {
            Upstream::OpenAi(decoder) => {
                if event.data == "[DONE]" {
                    self.done = true;
                    decoder.finish(&mut self.events);
                    return Ok(());
                }
                let chunk: openai::ChatCompletionChunk = serde_json::from_str(&event.data)
                    .map_err(|e| {
                        protocol(ctx, format!("an event is not a chat completion chunk: {e}"))
                    })?;
                if let Some(err) = embedded_error(&ctx.provider, &chunk.extra) {
                    return Err(err);
                }
                decoder.push(&chunk, &mut self.events);
            }
            Upstream::Anthropic(decoder) => {
                let Ok(wire_event) = serde_json::from_str::<anthropic::StreamEvent>(&event.data)
                else {
                    // An event type this gateway does not know: Anthropic may add some.
                    tracing::debug!(event = ?event.name, "unknown Anthropic stream event skipped");
                    return Ok(());
                };
                decoder
                    .push(&wire_event, &mut self.events)
                    .map_err(|e| anthropic_stream_error(ctx, &e))?;
                if decoder.is_ended() {
                    self.done = true;
                }
            }
            Upstream::Gemini(decoder) => {
                let chunk: gemini::GenerateContentResponse = serde_json::from_str(&event.data)
                    .map_err(|e| {
                        protocol(ctx, format!("an event is not a generateContent chunk: {e}"))
                    })?;
                if let Some(err) = embedded_error(&ctx.provider, &chunk.extra) {
                    return Err(err);
                }
                decoder.push(&chunk, &mut self.events);
            }
            Upstream::Ollama(decoder) => {
                if let Some(message) = super::ollama_error(event.data.as_bytes()) {
                    return Err(GatewayError::Upstream {
                        provider: ctx.provider.clone(),
                        status: http::StatusCode::BAD_GATEWAY,
                        message,
                        openai_body: None,
                        retry_after: None,
                    });
                }
                let chunk: ollama::ChatResponse =
                    serde_json::from_str(&event.data).map_err(|e| {
                        protocol(ctx, format!("a line is not a chat stream object: {e}"))
                    })?;
                decoder.push(&chunk, &mut self.events);
            }
        }
        Ok(())
    }

    /// Encodes the canonical events gathered so far into `out`, reading usage on the way.
    fn emit(&mut self, ctx: &mut RelayCtx, out: &mut BytesMut) -> Result<(), GatewayError> {
        let internal = |e: serde_json::Error| GatewayError::Internal(e.to_string());
        self.post.stream(&mut self.events);
        for event in self.events.drain(..) {
            match &event {
                StreamEvent::Usage(usage) => ctx.exchange.usage = Some(*usage),
                // What the client is sent, for charging a stream cut before its usage came.
                StreamEvent::Delta {
                    delta: Delta::Text(t) | Delta::Thinking(t) | Delta::ToolArguments(t),
                    ..
                } => {
                    if let Some(meter) = ctx.exchange.meter.as_mut() {
                        meter.relayed.push(t);
                    }
                }
                _ => {}
            }
            match &mut self.client {
                Client::Gemini(writer) => writer.push(&event, out).map_err(internal)?,
                Client::Ollama(lines) => {
                    lines.push(&event, &ctx.exchange, out).map_err(internal)?
                }
                Client::Responses(encoder) => {
                    let mut wire_events = Vec::new();
                    encoder.push(&event, &mut wire_events);
                    for e in wire_events {
                        let data = serde_json::to_string(&e).map_err(internal)?;
                        out.extend_from_slice(&wire::sse::encode(Some(e.kind.name()), &data));
                    }
                }
                Client::Anthropic(encoder) => {
                    let mut wire_events = Vec::new();
                    encoder.push(&event, &mut wire_events);
                    for e in wire_events {
                        let data = serde_json::to_string(&e).map_err(internal)?;
                        out.extend_from_slice(&wire::sse::encode(Some(e.name()), &data));
                    }
                }
                Client::OpenAi(encoder) => {
                    let mut chunks = Vec::new();
                    encoder.push(&event, &mut chunks);
                    for c in chunks {
                        match c {
                            openai::codec::ChunkOut::Chunk(chunk) => {
                                let data = serde_json::to_string(&chunk).map_err(internal)?;
                                out.extend_from_slice(&wire::sse::encode(None, &data));
                            }
                            openai::codec::ChunkOut::Done => {
                                out.extend_from_slice(b"data: [DONE]\n\n");
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// An `error` event of an Anthropic stream, with the status Anthropic gives its type.
fn anthropic_stream_error(ctx: &RelayCtx, e: &anthropic::codec::StreamError) -> GatewayError {
    let status = match e.kind.as_str() {
        "overloaded_error" => 529,
        "rate_limit_error" => 429,
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        _ => 500,
    };
    GatewayError::Upstream {
        provider: ctx.provider.clone(),
        status: http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY),
        message: e.message.clone(),
        openai_body: None,
        retry_after: None,
    }
}

fn protocol(ctx: &RelayCtx, detail: String) -> GatewayError {
    GatewayError::UpstreamProtocol {
        provider: ctx.provider.clone(),
        detail,
    }
}
