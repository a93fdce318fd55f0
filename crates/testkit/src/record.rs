//! Call recording: what requests arrived, how many, and which response streams are open.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use axum::http::request::Parts;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// One request received on an API route.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names are lowercase; values are decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Recorded {
    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn from_parts(parts: &Parts, body: &Bytes) -> Recorded {
        Recorded {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
            body: body.clone(),
        }
    }
}

/// Counters and the request log. In quiet mode only the counters are kept.
pub(crate) struct Recorder {
    quiet: bool,
    log: Mutex<Vec<Recorded>>,
    calls: AtomicUsize,
    open_streams: AtomicUsize,
    cancelled_streams: AtomicUsize,
    /// Tasks inside `wait_for_calls`; the hot path only notifies when this is non-zero.
    waiters: AtomicUsize,
    notify: Notify,
}

impl Recorder {
    pub(crate) fn new(quiet: bool) -> Recorder {
        Recorder {
            quiet,
            log: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
            open_streams: AtomicUsize::new(0),
            cancelled_streams: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            notify: Notify::new(),
        }
    }

    /// Records one API request. The log entry is written before the count moves, so a
    /// waiter that sees `calls() >= n` also sees the n-th request in `requests()`.
    pub(crate) fn record(&self, parts: &Parts, body: &Bytes) {
        if !self.quiet {
            let entry = Recorded::from_parts(parts, body);
            self.log.lock().push(entry);
        }
        self.calls.fetch_add(1, SeqCst);
        if self.waiters.load(SeqCst) > 0 {
            self.notify.notify_waiters();
        }
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.load(SeqCst)
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.log.lock().clone()
    }

    pub(crate) fn last_request(&self) -> Option<Recorded> {
        self.log.lock().last().cloned()
    }

    pub(crate) fn open_streams(&self) -> usize {
        self.open_streams.load(SeqCst)
    }

    pub(crate) fn cancelled_streams(&self) -> usize {
        self.cancelled_streams.load(SeqCst)
    }

    /// Clears the log and the counters. `open_streams` is a gauge of live bodies, so it
    /// is left alone: each open body still decrements it when it ends.
    pub(crate) fn reset(&self) {
        self.log.lock().clear();
        self.calls.store(0, SeqCst);
        self.cancelled_streams.store(0, SeqCst);
    }

    pub(crate) async fn wait_for_calls(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        self.waiters.fetch_add(1, SeqCst);
        let _waiting = Waiting(&self.waiters);
        loop {
            // Created before the check: `notify_waiters` wakes it even before it is polled.
            let notified = self.notify.notified();
            if self.calls() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.calls() >= n;
            }
        }
    }

    /// Marks a response body as open until the returned guard is dropped.
    pub(crate) fn stream_guard(self: &Arc<Self>) -> StreamGuard {
        self.open_streams.fetch_add(1, SeqCst);
        StreamGuard {
            recorder: Arc::clone(self),
            finished: false,
        }
    }
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// Lives inside a streamed response body. Dropping it closes the stream; dropping it
/// before [`StreamGuard::finish`] counts the stream as cancelled.
pub(crate) struct StreamGuard {
    recorder: Arc<Recorder>,
    finished: bool,
}

impl StreamGuard {
    /// The server has sent (or deliberately aborted) everything it meant to.
    pub(crate) fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.recorder.open_streams.fetch_sub(1, SeqCst);
        if !self.finished {
            self.recorder.cancelled_streams.fetch_add(1, SeqCst);
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn parts() -> Parts {
        let request = axum::http::Request::post("/v1/chat/completions?x=1")
            .header("Authorization", "Bearer k")
            .body(())
            .unwrap();
        request.into_parts().0
    }

    #[test]
    fn records_method_path_query_headers_and_body() {
        let recorder = Recorder::new(false);
        recorder.record(&parts(), &Bytes::from_static(b"{\"a\":1}"));
        let last = recorder.last_request().unwrap();
        assert_eq!(last.method, "POST");
        assert_eq!(last.path, "/v1/chat/completions");
        assert_eq!(last.query.as_deref(), Some("x=1"));
        assert_eq!(last.header("AUTHORIZATION"), Some("Bearer k"));
        assert_eq!(last.json(), Some(serde_json::json!({"a": 1})));
        assert_eq!(recorder.calls(), 1);
    }

    #[test]
    fn quiet_mode_counts_without_keeping_requests() {
        let recorder = Recorder::new(true);
        recorder.record(&parts(), &Bytes::new());
        assert_eq!(recorder.calls(), 1);
        assert!(recorder.requests().is_empty());
    }

    #[test]
    fn guards_track_open_and_cancelled_streams() {
        let recorder = Arc::new(Recorder::new(false));
        let mut done = recorder.stream_guard();
        let dropped = recorder.stream_guard();
        assert_eq!(recorder.open_streams(), 2);
        done.finish();
        drop(done);
        drop(dropped);
        assert_eq!(recorder.open_streams(), 0);
        assert_eq!(recorder.cancelled_streams(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn wait_for_calls_wakes_on_record_and_times_out() {
        let recorder = Arc::new(Recorder::new(true));
        assert!(!recorder.wait_for_calls(1, Duration::from_millis(50)).await);
        let waiter = {
            let recorder = Arc::clone(&recorder);
            tokio::spawn(async move { recorder.wait_for_calls(2, Duration::from_secs(5)).await })
        };
        tokio::task::yield_now().await;
        recorder.record(&parts(), &Bytes::new());
        recorder.record(&parts(), &Bytes::new());
        assert!(waiter.await.unwrap());
    }
}
