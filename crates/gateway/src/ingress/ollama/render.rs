//! Canonical answers rendered as Ollama's: a whole `/api/chat` or `/api/generate` object, or
//! NDJSON lines event by event. The durations (nanoseconds) are the gateway's own: from the
//! request's arrival, to the first byte sent, to the end.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use bytes::BytesMut;
use wire::canonical::{self, StreamEvent};
use wire::ollama::codec::{ChunkEncoder, encode_response, rfc3339};
use wire::ollama::{ChatResponse, GenerateResponse, Metrics};

use crate::telemetry::Exchange;

/// Now, as Ollama writes `created_at`.
pub fn created_at() -> String {
    rfc3339(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO),
    )
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Fills the durations of the last object. No model is loaded (`load_duration` 0); a whole
/// answer has no first byte to split at, so all of it is `eval_duration`.
fn durations(metrics: &mut Metrics, exchange: &Exchange, streamed: bool) {
    let now = Instant::now();
    let total = now.duration_since(exchange.started);
    metrics.total_duration = Some(nanos(total));
    metrics.load_duration = Some(0);
    match exchange.first_byte.filter(|_| streamed) {
        Some(first) => {
            metrics.prompt_eval_duration = Some(nanos(first.duration_since(exchange.started)));
            metrics.eval_duration = Some(nanos(now.duration_since(first)));
        }
        None => {
            metrics.prompt_eval_duration = Some(0);
            metrics.eval_duration = Some(nanos(total));
        }
    }
}

/// A whole answer, as `/api/chat` or (`generate`) `/api/generate` writes it.
pub fn json(
    resp: &canonical::Response,
    exchange: &Exchange,
    generate: bool,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = encode_response(resp, &created_at());
    durations(&mut out.metrics, exchange, false);
    if generate {
        serde_json::to_vec(&GenerateResponse::from(out))
    } else {
        serde_json::to_vec(&out)
    }
}

/// NDJSON lines of a streamed answer.
#[derive(Debug)]
pub struct Lines {
    encoder: ChunkEncoder,
    generate: bool,
}

impl Lines {
    pub fn new(model: &str, generate: bool) -> Self {
        Self {
            encoder: ChunkEncoder::new(model, created_at()),
            generate,
        }
    }

    /// The lines for one canonical event, appended to `out`.
    pub fn push(
        &mut self,
        event: &StreamEvent,
        exchange: &Exchange,
        out: &mut BytesMut,
    ) -> Result<(), serde_json::Error> {
        let mut objects: Vec<ChatResponse> = Vec::new();
        self.encoder.push(event, &mut objects);
        for mut object in objects {
            if object.done {
                durations(&mut object.metrics, exchange, true);
            }
            let line = if self.generate {
                if !object.done
                    && object.message.content.is_empty()
                    && object.message.thinking.is_none()
                {
                    // A tool call: generate has no place for it.
                    continue;
                }
                serde_json::to_vec(&GenerateResponse::from(object))?
            } else {
                serde_json::to_vec(&object)?
            };
            out.extend_from_slice(&line);
            out.extend_from_slice(b"\n");
        }
        Ok(())
    }
}
