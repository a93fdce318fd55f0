//! Relaying upstream responses to the client as they arrive: the same-dialect fast path
//! (`passthrough`), the streaming relays for SSE (`sse`) and JSON bodies (`body`), and the
//! upstream call itself (`upstream`).

pub mod account;
mod body;
pub mod idempotency;
pub mod json;
pub mod passthrough;
mod sse;
pub mod translate;
pub mod upstream;

use bytes::Bytes;
use tokio::time::{Duration, Instant};

use crate::error::GatewayError;
use crate::telemetry::Exchange;

pub use body::json_body;
pub use sse::sse_events;

/// A relay's failure.
#[derive(Debug)]
pub enum RelayError {
    /// Nothing has been sent yet: the caller may still answer with an error status or try
    /// another target. The request record is handed back, unfinished.
    BeforeStart(GatewayError, Box<Exchange>),
    /// The response had started: it is cut off (the error is already logged).
    Aborted(GatewayError),
}

impl std::fmt::Display for RelayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BeforeStart(e, _) | Self::Aborted(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RelayError {}

/// What a relay needs besides the upstream response.
pub struct RelayCtx {
    /// The provider id, for errors.
    pub provider: String,
    /// The model name the client asked for, written into every response object.
    pub client_model: String,
    /// Drop the usage-only chunk the gateway asked for on the client's behalf.
    pub strip_usage_chunk: bool,
    pub idle: Duration,
    /// Translated streams: a keep-alive after this long without upstream events.
    pub keep_alive: Option<Duration>,
    pub deadline: Instant,
    pub exchange: Exchange,
    /// Renders an error as one event of the client's dialect, for failures mid-stream.
    pub error_event: fn(&GatewayError) -> Bytes,
    /// Held for as long as the response streams (the target's in-flight count).
    pub in_flight: Option<crate::routing::health::InFlightGuard>,
}

impl RelayCtx {
    /// Hands the unfinished request record back with an error that came before any output.
    fn before_start(&mut self, err: GatewayError) -> RelayError {
        let exchange = std::mem::replace(&mut self.exchange, Exchange::detached());
        RelayError::BeforeStart(err, Box::new(exchange))
    }
}

/// Waits for the next piece of the upstream body within the idle timeout and the deadline.
async fn next_piece<S>(body: &mut S, ctx: &RelayCtx) -> Result<Option<Bytes>, GatewayError>
where
    S: futures_util::Stream<Item = reqwest::Result<Bytes>> + Unpin,
{
    use futures_util::StreamExt;
    let idle_deadline = Instant::now() + ctx.idle;
    let (deadline, phase) = if idle_deadline < ctx.deadline {
        (idle_deadline, crate::error::TimeoutPhase::Idle)
    } else {
        (ctx.deadline, crate::error::TimeoutPhase::Total)
    };
    match tokio::time::timeout_at(deadline, body.next()).await {
        Err(_) => Err(GatewayError::UpstreamTimeout {
            provider: ctx.provider.clone(),
            phase,
        }),
        Ok(piece) => piece_result(piece, ctx),
    }
}

/// The next piece of the upstream body if it has already arrived, without waiting: lets a
/// relay send everything that is there in one write instead of one write per piece.
fn ready_piece<S>(body: &mut S, ctx: &RelayCtx) -> Option<Result<Option<Bytes>, GatewayError>>
where
    S: futures_util::Stream<Item = reqwest::Result<Bytes>> + Unpin,
{
    use futures_util::{FutureExt, StreamExt};
    body.next()
        .now_or_never()
        .map(|piece| piece_result(piece, ctx))
}

fn piece_result(
    piece: Option<reqwest::Result<Bytes>>,
    ctx: &RelayCtx,
) -> Result<Option<Bytes>, GatewayError> {
    match piece {
        None => Ok(None),
        Some(Ok(piece)) => Ok(Some(piece)),
        Some(Err(e)) => Err(match upstream::transport_error(&ctx.provider, &e) {
            GatewayError::UpstreamUnreachable { provider, detail } => {
                GatewayError::UpstreamUnreachable {
                    provider,
                    detail: format!("the response broke off: {detail}"),
                }
            }
            other => other,
        }),
    }
}

/// Reads normalized usage from the raw `usage` value of an OpenAI object.
fn parse_usage(raw: Option<&[u8]>) -> Option<wire::Usage> {
    let raw = raw?;
    serde_json::from_slice::<Option<wire::openai::Usage>>(raw)
        .ok()
        .flatten()
        .map(|u| wire::Usage::from_openai(&u))
}
