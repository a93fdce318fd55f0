//! Request logs: each request's body and response body, kept only when `[request_logs]
//! enabled = true`, cut to `max_body_size`, with secrets redacted, written to the store by a
//! batching writer like the usage records.
//!
//! The path of a log, in order:
//!
//! 1. the request's [`Capture`] copies at most `max_body_size` bytes of the request body;
//! 2. the response passes through [`tap`], which copies what it relays — up to the cap, never
//!    holding more, never delaying a chunk;
//! 3. when both the request record and the response body are done with the capture, it goes
//!    to the writer's bounded channel without waiting (a full channel counts a loss);
//! 4. the writer task redacts ([`redact`]), marks truncation, and stores batches.

pub mod redact;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use parking_lot::Mutex;

use super::writer::{BatchHandle, BatchSink, Names, WriterConfig, WriterStats, WriterTask};
use super::{BoxFuture, start_writer};

/// The default cap on each logged body.
pub const DEFAULT_MAX_BODY: usize = 16 << 10;

const NAMES: Names = Names {
    records: "request logs",
    full: "the request-log channel is full",
    stopped: "the request-log writer has stopped",
};

/// One body as captured: its first bytes and its full length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub head: Bytes,
    pub total: u64,
}

impl Captured {
    pub fn is_truncated(&self) -> bool {
        self.total > self.head.len() as u64
    }
}

/// What one request leaves for the log, before redaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLogEntry {
    pub request_id: Arc<str>,
    /// Unix milliseconds of arrival.
    pub created_at: i64,
    pub status: u16,
    pub request: Option<Captured>,
    pub response: Option<Captured>,
    /// What the gateway answered instead of relaying a response (its error message).
    pub error: Option<String>,
}

/// Hands request logs to their writer; cheap to clone.
#[derive(Debug, Clone)]
pub struct RequestLogHandle {
    writer: BatchHandle<RequestLogEntry>,
    max_body: usize,
}

impl RequestLogHandle {
    pub fn stats(&self) -> WriterStats {
        self.writer.stats()
    }

    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// A capture for one request, sent to the writer when the last of its holders lets go.
    pub fn capture(&self, request_id: Arc<str>, created_at: i64) -> Capture {
        Capture(Arc::new(CaptureInner {
            handle: self.clone(),
            state: Mutex::new(Pending {
                entry: RequestLogEntry {
                    request_id,
                    created_at,
                    status: 0,
                    request: None,
                    response: None,
                    error: None,
                },
                response: BytesMut::new(),
                response_total: 0,
                responded: false,
            }),
        }))
    }
}

/// Starts the request-log writer into `store`. `max_body` caps each body (at least 1 byte).
/// The channel holds 1,000 logs, so at most about `2 × max_body × 1000` bytes wait in it.
pub fn start(
    store: store::Store,
    max_body: usize,
    cfg: Option<WriterConfig>,
) -> (RequestLogHandle, WriterTask) {
    let cfg = cfg.unwrap_or(WriterConfig {
        capacity: 1_000,
        batch: 100,
        ..WriterConfig::default()
    });
    let (writer, task) = start_writer(Arc::new(StoreLogSink(store)), cfg, NAMES);
    (
        RequestLogHandle {
            writer,
            max_body: max_body.max(1),
        },
        task,
    )
}

/// Starts the writer when `[request_logs] enabled`; `None` otherwise.
pub fn from_config(
    settings: &crate::config::RequestLogSettings,
    store: store::Store,
) -> Option<(RequestLogHandle, WriterTask)> {
    settings
        .enabled
        .then(|| start(store, settings.max_body_bytes, None))
}

/// One request's log while it is being filled in. Shared by the request record and the
/// response tap; sent when the last one drops it.
#[derive(Debug, Clone)]
pub struct Capture(Arc<CaptureInner>);

#[derive(Debug)]
struct CaptureInner {
    handle: RequestLogHandle,
    state: Mutex<Pending>,
}

#[derive(Debug)]
struct Pending {
    entry: RequestLogEntry,
    response: BytesMut,
    response_total: u64,
    /// A response body went through the tap (possibly empty).
    responded: bool,
}

impl Capture {
    /// Copies the first bytes of the request body (at most the cap).
    pub fn request(&self, body: &[u8]) {
        let cap = self.0.handle.max_body;
        let head = Bytes::copy_from_slice(&body[..body.len().min(cap)]);
        self.0.state.lock().entry.request = Some(Captured {
            head,
            total: body.len() as u64,
        });
    }

    /// Copies what still fits of one relayed chunk.
    fn response(&self, chunk: &[u8]) {
        let cap = self.0.handle.max_body;
        let mut s = self.0.state.lock();
        s.responded = true;
        s.response_total += chunk.len() as u64;
        let room = cap.saturating_sub(s.response.len());
        if room > 0 {
            s.response
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    }

    /// The request ended with `status`; `error` is what the gateway answered instead of a
    /// relayed response, if it did.
    pub fn finish(&self, status: u16, error: Option<&str>) {
        let mut s = self.0.state.lock();
        s.entry.status = status;
        if !s.responded {
            s.entry.error = error.map(str::to_owned);
        }
    }
}

impl Drop for CaptureInner {
    fn drop(&mut self) {
        let s = self.state.get_mut();
        let mut entry = std::mem::replace(
            &mut s.entry,
            RequestLogEntry {
                request_id: Arc::from(""),
                created_at: 0,
                status: 0,
                request: None,
                response: None,
                error: None,
            },
        );
        if s.responded {
            entry.response = Some(Captured {
                head: std::mem::take(&mut s.response).freeze(),
                total: s.response_total,
            });
        }
        self.handle.writer.record(entry);
    }
}

pin_project_lite::pin_project! {
    /// A response body stream that copies what it relays into a [`Capture`].
    pub struct Tap<S> {
        #[pin]
        inner: S,
        capture: Option<Capture>,
    }
}

/// Wraps a response body so its bytes are captured on the side; with no capture it only
/// forwards.
pub fn tap<S>(inner: S, capture: Option<Capture>) -> Tap<S> {
    Tap { inner, capture }
}

impl<S, E> Stream for Tap<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let polled = this.inner.poll_next(cx);
        if let (Some(capture), Poll::Ready(Some(Ok(chunk)))) = (this.capture.as_ref(), &polled) {
            capture.response(chunk);
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Stores batches of logs, redacted and with truncation marked.
struct StoreLogSink(store::Store);

impl BatchSink<RequestLogEntry> for StoreLogSink {
    fn write_batch(&self, batch: Vec<RequestLogEntry>) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let rows: Vec<store::RequestLog> = batch.iter().map(to_row).collect();
            self.0
                .insert_request_logs(&rows)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

fn to_row(e: &RequestLogEntry) -> store::RequestLog {
    let response = match (&e.response, &e.error) {
        (Some(body), _) => Some(body_text(body)),
        (None, Some(error)) => Some(redact::redact(error)),
        (None, None) => None,
    };
    store::RequestLog {
        request_id: e.request_id.to_string(),
        created_at: e.created_at,
        status: e.status,
        request_body: e.request.as_ref().map(body_text),
        response_body: response,
    }
}

/// The stored text of a body: valid UTF-8 up to the cut, redacted, and a marker when cut.
pub fn body_text(body: &Captured) -> String {
    let mut text = match std::str::from_utf8(&body.head) {
        Ok(s) => redact::redact(s),
        // A cut through a multi-byte character: keep the complete ones before it.
        Err(e) if e.error_len().is_none() => {
            redact::redact(&String::from_utf8_lossy(&body.head[..e.valid_up_to()]))
        }
        Err(_) => redact::redact(&String::from_utf8_lossy(&body.head)),
    };
    if body.is_truncated() {
        text.push_str(&format!(
            "\n[truncated by switchboard: {} of {} bytes kept]",
            body.head.len(),
            body.total
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_body_keeps_whole_characters_and_says_so() {
        let body = Captured {
            head: Bytes::from_static("héllo".as_bytes()).slice(..2),
            total: 6,
        };
        assert_eq!(
            body_text(&body),
            "h\n[truncated by switchboard: 2 of 6 bytes kept]"
        );
    }

    #[test]
    fn a_whole_body_has_no_marker() {
        let body = Captured {
            head: Bytes::from_static(b"{\"a\":1}"),
            total: 7,
        };
        assert_eq!(body_text(&body), "{\"a\":1}");
    }
}
