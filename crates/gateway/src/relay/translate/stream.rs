//! A streamed answer, translated event by event: each upstream SSE event is decoded into
//! canonical stream events and those are encoded as the client's events at once — nothing
//! is held back beyond what one upstream piece carried. Until the first piece has gone out an
//! upstream failure can still fall back; after that it ends the stream with an error event in
//! the client's dialect.

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use wire::anthropic::codec::EventEncoder;
use wire::canonical::StreamEvent;
use wire::openai::codec::ChunkDecoder;
use wire::sse::{SseDecoder, SseEvent};

use super::super::{RelayCtx, RelayError, next_piece};
use super::embedded_error;
use crate::error::GatewayError;
use crate::telemetry::Outcome;

/// OpenAI chat chunks in, Anthropic Messages events out.
struct Pipeline {
    sse: SseDecoder,
    decoder: ChunkDecoder,
    encoder: EventEncoder,
    events: Vec<StreamEvent>,
    out_events: Vec<wire::anthropic::StreamEvent>,
    done: bool,
}

pub(super) fn to_anthropic(
    upstream: reqwest::Response,
    mut ctx: RelayCtx,
) -> impl Stream<Item = Result<Bytes, RelayError>> + Send + 'static {
    async_stream::stream! {
        let mut body = Box::pin(upstream.bytes_stream());
        let mut p = Pipeline {
            sse: SseDecoder::new(),
            decoder: ChunkDecoder::new(),
            encoder: EventEncoder::new(ctx.client_model.clone()),
            events: Vec::new(),
            out_events: Vec::new(),
            done: false,
        };
        let mut started = false;
        loop {
            let mut out = BytesMut::new();
            let (at_end, failure) = match next_piece(&mut body, &ctx).await {
                Ok(Some(piece)) => {
                    p.sse.push(&piece);
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
                    yield Ok((ctx.error_event)(&err));
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
    /// Translates every complete upstream event (at the end: the unterminated last one too,
    /// and the end of the stream when `[DONE]` never came).
    fn drain(
        &mut self,
        at_end: bool,
        ctx: &mut RelayCtx,
        out: &mut BytesMut,
    ) -> Result<(), GatewayError> {
        loop {
            let next = match self.sse.next_event() {
                Ok(None) if at_end => self.sse.finish(),
                other => other,
            };
            let event = next.map_err(|e| protocol(ctx, format!("bad event stream: {e}")))?;
            match event {
                Some(event) => self.event(&event, ctx)?,
                None => break,
            }
            self.emit(ctx, out)?;
        }
        if at_end && !self.done {
            self.done = true;
            self.decoder.finish(&mut self.events);
        }
        self.emit(ctx, out)
    }

    fn event(&mut self, event: &SseEvent, ctx: &RelayCtx) -> Result<(), GatewayError> {
        if self.done || event.is_comment() || event.data.is_empty() {
            return Ok(());
        }
        if event.is_done() {
            self.done = true;
            self.decoder.finish(&mut self.events);
            return Ok(());
        }
        let chunk: wire::openai::ChatCompletionChunk = serde_json::from_str(&event.data)
            .map_err(|e| protocol(ctx, format!("an event is not a chat completion chunk: {e}")))?;
        if let Some(err) = embedded_error(&ctx.provider, &chunk.extra) {
            return Err(err);
        }
        self.decoder.push(&chunk, &mut self.events);
        Ok(())
    }

    /// Encodes the canonical events gathered so far into `out`, reading usage on the way.
    fn emit(&mut self, ctx: &mut RelayCtx, out: &mut BytesMut) -> Result<(), GatewayError> {
        for event in self.events.drain(..) {
            if let StreamEvent::Usage(usage) = &event {
                ctx.exchange.usage = Some(*usage);
            }
            self.encoder.push(&event, &mut self.out_events);
        }
        for event in self.out_events.drain(..) {
            let data =
                serde_json::to_string(&event).map_err(|e| GatewayError::Internal(e.to_string()))?;
            out.extend_from_slice(&wire::sse::encode(Some(event.name()), &data));
        }
        Ok(())
    }
}

fn protocol(ctx: &RelayCtx, detail: String) -> GatewayError {
    GatewayError::UpstreamProtocol {
        provider: ctx.provider.clone(),
        detail,
    }
}
