//! A translated stream in the Gemini dialect: each chunk a `GenerateContentResponse`, as
//! `data:` events (`alt=sse`) or as the elements of one JSON array written as they come
//! (`[{…},\r\n{…}]`, the default without `alt=sse`).

use bytes::BytesMut;
use serde_json::Value;
use wire::Dialect;
use wire::canonical::{Request, StreamEvent};
use wire::gemini::codec::ChunkEncoder;

/// The passthrough key that carries the framing from the ingress to the relay.
pub(super) const FRAMING: &str = "$switchboard_gemini_stream";

/// The passthrough key that says the client asked for thoughts
/// (`generationConfig.thinkingConfig.includeThoughts`); without it, thoughts are left out of
/// the answer (still counted in its usage), as Gemini does.
pub(super) const THOUGHTS: &str = "$switchboard_gemini_thoughts";

/// Whether the client asked for the model's thoughts.
pub fn includes_thoughts(request: &Request) -> bool {
    request
        .passthrough
        .for_dialect(Dialect::Gemini)
        .and_then(|f| f.get(THOUGHTS))
        == Some(&Value::Bool(true))
}

/// Whether the client asked for `alt=sse` (else: a JSON array).
pub fn is_sse(request: &Request) -> bool {
    request
        .passthrough
        .for_dialect(Dialect::Gemini)
        .and_then(|f| f.get(FRAMING))
        .and_then(Value::as_str)
        == Some("sse")
}

/// The content type of a Gemini stream.
pub fn content_type(request: &Request) -> &'static str {
    if is_sse(request) {
        "text/event-stream"
    } else {
        "application/json"
    }
}

/// Canonical events in, Gemini stream bytes out.
#[derive(Debug)]
pub struct StreamWriter {
    encoder: ChunkEncoder,
    sse: bool,
    written: usize,
}

impl StreamWriter {
    pub fn new(request: &Request, client_model: &str) -> Self {
        Self {
            encoder: ChunkEncoder::new(client_model),
            sse: is_sse(request),
            written: 0,
        }
    }

    /// The bytes for one event, appended to `out`.
    pub fn push(&mut self, event: &StreamEvent, out: &mut BytesMut) -> serde_json::Result<()> {
        let mut chunks = Vec::new();
        self.encoder.push(event, &mut chunks);
        for chunk in chunks {
            let data = serde_json::to_string(&chunk)?;
            if self.sse {
                out.extend_from_slice(&wire::sse::encode(None, &data));
            } else {
                out.extend_from_slice(if self.written == 0 { b"[" } else { b",\r\n" });
                out.extend_from_slice(data.as_bytes());
            }
            self.written += 1;
        }
        if !self.sse && matches!(event, StreamEvent::End) {
            if self.written == 0 {
                out.extend_from_slice(b"[");
            }
            out.extend_from_slice(b"]");
        }
        Ok(())
    }
}
