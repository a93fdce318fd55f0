//! The JSON-body relay of the fast path: the body streams through as it arrives, with the
//! top-level `model` rewritten and `usage` read on the side. Output is held back only until
//! the `model` value has passed, so an upstream that sends garbage is still answered with 502.

use bytes::{Bytes, BytesMut};
use futures_util::Stream;

use super::json::TopLevelRewriter;
use super::{RelayCtx, RelayError, next_piece, parse_usage};
use crate::error::GatewayError;
use crate::telemetry::Outcome;

/// Past this much held-back output the relay starts sending even without having seen `model`.
const MAX_HOLD: usize = 256 << 10;

/// Relays a JSON body. [`RelayError::BeforeStart`] lets the caller try another target or
/// answer with an error; [`RelayError::Aborted`] later cuts the response off (the status line
/// has gone out already).
pub fn json_body(
    upstream: reqwest::Response,
    mut ctx: RelayCtx,
) -> impl Stream<Item = Result<Bytes, RelayError>> + Send + 'static {
    async_stream::stream! {
        let mut body = Box::pin(upstream.bytes_stream());
        let mut rewriter = TopLevelRewriter::new(&ctx.client_model);
        let mut pending = BytesMut::new();
        let mut started = false;
        let protocol = |provider: &str, e: super::json::RewriteError| GatewayError::UpstreamProtocol {
            provider: provider.to_owned(),
            detail: format!("the response is not a JSON object: {e}"),
        };
        loop {
            let (done, failure) = match next_piece(&mut body, &ctx).await {
                Ok(Some(piece)) => (false, rewriter.push(&piece, &mut pending).err().map(|e| protocol(&ctx.provider, e))),
                Ok(None) => (true, rewriter.finish().err().map(|e| protocol(&ctx.provider, e))),
                Err(e) => (true, Some(e)),
            };
            if let Some(err) = failure {
                if started {
                    ctx.exchange.error = Some(err.to_string());
                    ctx.exchange.finish(Outcome::UpstreamFailed);
                    yield Err(RelayError::Aborted(err));
                } else {
                    yield Err(ctx.before_start(err));
                }
                break;
            }
            if !pending.is_empty() && (started || done || rewriter.past_model() || pending.len() >= MAX_HOLD) {
                started = true;
                ctx.exchange.mark_first_byte();
                yield Ok(pending.split().freeze());
            }
            if done {
                ctx.exchange.usage = parse_usage(rewriter.usage_json());
                ctx.exchange.finish(Outcome::Completed);
                break;
            }
        }
    }
}
