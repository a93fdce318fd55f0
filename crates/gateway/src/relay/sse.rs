//! The server-sent-event relay of the fast path: each upstream piece is split into events,
//! each event's JSON gets the client's model name (and its usage read on the side), and the
//! events of every piece that has already arrived go out together in one write.

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use wire::sse::{SseDecoder, SseEvent};

use super::json::TopLevelRewriter;
use super::{RelayCtx, RelayError, next_piece, parse_usage, ready_piece};
use crate::error::GatewayError;
use crate::telemetry::Outcome;

/// Output gathered from pieces that had already arrived is sent once it reaches this size.
const COALESCE_MAX: usize = 64 << 10;

/// Relays an upstream event stream. Until the first piece has been produced an upstream
/// failure comes out as [`RelayError::BeforeStart`] (so the caller can still try another
/// target or answer with an error status); after that it ends the stream with an error event
/// in the client's dialect.
pub fn sse_events(
    upstream: reqwest::Response,
    mut ctx: RelayCtx,
) -> impl Stream<Item = Result<Bytes, RelayError>> + Send + 'static {
    async_stream::stream! {
        let mut body = Box::pin(upstream.bytes_stream());
        let mut decoder = SseDecoder::new();
        let mut rewriter = TopLevelRewriter::new(&ctx.client_model);
        let mut started = false;
        loop {
            let mut out = BytesMut::new();
            let mut next = next_piece(&mut body, &ctx).await;
            let failure = loop {
                match next {
                    Ok(Some(piece)) => {
                        decoder.push(&piece);
                        if let Err(e) = drain(&mut decoder, false, &mut rewriter, &mut ctx, &mut out) {
                            break Some(e);
                        }
                    }
                    Ok(None) => match drain(&mut decoder, true, &mut rewriter, &mut ctx, &mut out) {
                        Ok(()) => {
                            if !out.is_empty() {
                                ctx.exchange.mark_first_byte();
                                yield Ok(out.freeze());
                            }
                            ctx.exchange.finish(Outcome::Completed);
                            return;
                        }
                        Err(e) => break Some(e),
                    },
                    Err(e) => break Some(e),
                }
                // Whatever else has arrived already goes out in the same write.
                if out.len() >= COALESCE_MAX {
                    break None;
                }
                // The upstream connection hands over one piece per turn: give it one turn to
                // hand over the next if it has it. A yield costs far less than a write.
                let ready = match ready_piece(&mut body, &ctx) {
                    Some(piece) => Some(piece),
                    None => {
                        tokio::task::yield_now().await;
                        ready_piece(&mut body, &ctx)
                    }
                };
                match ready {
                    Some(piece) => next = piece,
                    None => break None,
                }
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
        }
    }
}

/// Moves every complete event out of the decoder (and, at the end, the unterminated last one).
fn drain(
    decoder: &mut SseDecoder,
    at_end: bool,
    rewriter: &mut TopLevelRewriter,
    ctx: &mut RelayCtx,
    out: &mut BytesMut,
) -> Result<(), GatewayError> {
    loop {
        let next = match decoder.next_event() {
            Ok(None) if at_end => decoder.finish(),
            other => other,
        };
        match next.map_err(|e| protocol(ctx, format!("bad event stream: {e}")))? {
            Some(event) => relay_event(event, rewriter, ctx, out).map_err(|d| protocol(ctx, d))?,
            None => return Ok(()),
        }
    }
}

fn protocol(ctx: &RelayCtx, detail: String) -> GatewayError {
    GatewayError::UpstreamProtocol {
        provider: ctx.provider.clone(),
        detail,
    }
}

fn relay_event(
    event: SseEvent,
    rewriter: &mut TopLevelRewriter,
    ctx: &mut RelayCtx,
    out: &mut BytesMut,
) -> Result<(), String> {
    if event.is_comment() || event.is_done() || event.data.is_empty() {
        out.extend_from_slice(&event.raw);
        return Ok(());
    }
    rewriter.reset();
    let mut json = BytesMut::with_capacity(event.data.len() + 16);
    rewriter
        .push(event.data.as_bytes(), &mut json)
        .and_then(|()| rewriter.finish())
        .map_err(|e| format!("an event is not a JSON object: {e}"))?;
    if let Some(usage) = parse_usage(rewriter.usage_json()) {
        ctx.exchange.usage = Some(usage);
        if ctx.strip_usage_chunk && wire::openai::stream::is_usage_only_chunk(&event.data) {
            return Ok(());
        }
    }
    // What the client is sent, for charging a stream that ends before its usage is reported.
    if let Some(meter) = ctx.exchange.meter.as_mut() {
        meter.relayed.observe(event.data.as_bytes());
    }
    if let Some(name) = &event.event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&json);
    out.extend_from_slice(b"\n\n");
    Ok(())
}
