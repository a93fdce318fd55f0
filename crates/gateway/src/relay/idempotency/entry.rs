//! One shared answer: the recorded head and body chunks of a leader's response, the upstream
//! body still being read, and the readers (leader and followers) that replay it.
//!
//! Pull-based, no task and no channel: every reader that has caught up with the recording
//! tries to take the upstream lock and poll the upstream body itself, with a waker that wakes
//! all waiting readers. A chunk is appended to the recording under that lock, so order and
//! chunk boundaries are the upstream's; whoever polls first drives, nobody waits on a slower
//! reader, and the upstream body lives exactly as long as some reader still wants it.
//!
//! Lock order: `upstream` → table (in `super`) → `state` → `waiters`. Wakers are called and
//! the upstream body is dropped only with no lock held.

use std::mem;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};

use axum::BoxError;
use axum::body::{Body, BodyDataStream, HttpBody};
use axum::response::Response;
use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use parking_lot::Mutex;
use tokio::time::Instant;

use super::{Conflict, Inner, REPLAYED_HEADER};

/// How a body error reaches the readers that did not poll it themselves.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReplayError {
    #[error("the original response broke off: {0}")]
    BrokeOff(Arc<str>),
    #[error("the original response grew past the limit for sharing it, so its replay was cut off")]
    TooLarge,
    #[error("the original response is no longer available")]
    Gone,
}

pub(super) struct Entry {
    pub(super) key: Arc<str>,
    fingerprint: u64,
    owner: Weak<Inner>,
    state: Mutex<State>,
    /// The leader's body while it is being read; `None` before `record` and once it ended.
    upstream: Mutex<Option<BodyDataStream>>,
    waiters: Arc<Waiters>,
    /// Wakes every registered reader; given to the upstream body when it is polled.
    fanout: Waker,
}

#[derive(Default)]
struct State {
    /// Status and the headers followers get; set by `record`.
    head: Option<(StatusCode, HeaderMap)>,
    /// Chunks `base..base + chunks.len()` of the body.
    chunks: Vec<Bytes>,
    base: usize,
    /// Bytes held in `chunks`.
    bytes: usize,
    end: Option<End>,
    /// The body grew past a limit: followers are cut off, the leader reads on alone.
    too_large: bool,
    /// The leader was dropped before it had a response.
    failed: bool,
    /// No longer joinable: a new claim of the key leads again.
    released: bool,
    /// Set when the exchange finished and the entry stays for replay.
    expires_at: Option<Instant>,
    /// Live tokens: the leader, followers waiting for the head, and readers.
    consumers: usize,
    next_id: u64,
    /// The leader's reader position, while it is attached.
    leader_pos: Option<usize>,
}

#[derive(Clone)]
enum End {
    Complete,
    BrokeOff(Arc<str>),
    /// Every reader went away before the upstream body ended; it was dropped.
    Cancelled,
}

/// What `join` found under the table lock.
pub(super) enum Join {
    Follower(Token),
    Conflict(Conflict),
    /// Failed, released or expired: the caller replaces it.
    Stale,
}

/// What the table must do once an exchange finished.
enum Outcome {
    Keep(Instant),
    Release,
}

impl State {
    fn recorded(&self) -> usize {
        self.base + self.chunks.len()
    }

    /// Once the body is too large, frees the chunks no reader needs any more (only the leader
    /// reads on, so those it has read). Returns the bytes freed.
    fn free_unneeded(&mut self) -> usize {
        let needed = self.leader_pos.is_some_and(|p| p < self.recorded());
        if !self.too_large || needed {
            return 0;
        }
        self.base += self.chunks.len();
        self.chunks.clear();
        mem::take(&mut self.bytes)
    }
}

impl Entry {
    /// A new entry with the leader's token already attached.
    pub(super) fn create(key: Arc<str>, fingerprint: u64, owner: Weak<Inner>) -> Token {
        let waiters = Arc::new(Waiters::default());
        let entry = Arc::new(Entry {
            key,
            fingerprint,
            owner,
            state: Mutex::new(State {
                consumers: 1,
                next_id: 1,
                ..State::default()
            }),
            upstream: Mutex::new(None),
            fanout: Waker::from(Arc::clone(&waiters)),
            waiters,
        });
        Token {
            entry,
            id: 0,
            leader: true,
        }
    }

    /// Attaches a follower, or says why not. Called under the table lock.
    pub(super) fn join(self: &Arc<Self>, fingerprint: u64, now: Instant) -> Join {
        let mut s = self.state.lock();
        if s.released || s.expires_at.is_some_and(|t| t <= now) {
            return Join::Stale;
        }
        if self.fingerprint != fingerprint {
            return Join::Conflict(Conflict::KeyReused);
        }
        if s.too_large {
            return Join::Conflict(Conflict::TooLarge);
        }
        s.consumers += 1;
        s.next_id += 1;
        Join::Follower(Token {
            entry: Arc::clone(self),
            id: s.next_id,
            leader: false,
        })
    }

    /// Whether the table may forget this entry at `now` (for purging when full).
    pub(super) fn expired(&self, now: Instant) -> bool {
        let s = self.state.lock();
        s.released || s.expires_at.is_some_and(|t| t <= now)
    }

    /// The leader was dropped without a response: waiting followers get `OriginalFailed`
    /// and the key is released.
    pub(super) fn fail(self: &Arc<Self>) {
        {
            let mut s = self.state.lock();
            s.failed = true;
            s.released = true;
        }
        self.publish(Outcome::Release);
        self.waiters.wake_all(None);
    }

    /// Starts sharing the leader's response; returns the leader's own.
    pub(super) fn record(self: &Arc<Self>, token: Token, response: Response) -> Response {
        let (mut parts, body) = response.into_parts();
        // `Body::from_stream` below knows no length: keep a known one in the header so the
        // leader's client sees the same framing as without idempotency.
        if let Some(len) = HttpBody::size_hint(&body).exact()
            && len > 0
            && !parts.headers.contains_key(header::CONTENT_LENGTH)
        {
            parts.headers.insert(header::CONTENT_LENGTH, len.into());
        }
        let mut replayed = parts.headers.clone();
        // Each follower gets its own request id from the request-id layer.
        replayed.remove("x-request-id");
        replayed.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        *self.upstream.lock() = Some(body.into_data_stream());
        {
            let mut s = self.state.lock();
            s.head = Some((parts.status, replayed));
            s.leader_pos = Some(0);
        }
        self.waiters.wake_all(None);
        let reader = Reader {
            token,
            pos: 0,
            done: false,
        };
        Response::from_parts(parts, Body::from_stream(reader))
    }

    /// Waits for the leader's head and answers with the replay.
    fn poll_head(&self, token: &mut Option<Token>, cx: &mut Context<'_>) -> Poll<Claimed> {
        let Some(id) = token.as_ref().map(|t| t.id) else {
            return Poll::Ready(Err(Conflict::OriginalFailed));
        };
        let s = self.state.lock();
        if s.failed {
            return Poll::Ready(Err(Conflict::OriginalFailed));
        }
        if s.too_large {
            return Poll::Ready(Err(Conflict::TooLarge));
        }
        let Some((status, headers)) = s.head.clone() else {
            self.waiters.register(id, cx.waker());
            return Poll::Pending;
        };
        drop(s);
        let Some(token) = token.take() else {
            return Poll::Ready(Err(Conflict::OriginalFailed));
        };
        let reader = Reader {
            token,
            pos: 0,
            done: false,
        };
        let mut response = Response::new(Body::from_stream(reader));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Poll::Ready(Ok(response))
    }

    /// The next piece for the reader at `pos`: recorded, or read from the upstream.
    fn poll_read(
        self: &Arc<Self>,
        id: u64,
        leader: bool,
        pos: &mut usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, BoxError>>> {
        loop {
            {
                let mut s = self.state.lock();
                if let Some(ready) = Self::take_recorded(&mut s, leader, pos) {
                    let freed = s.free_unneeded();
                    drop(s);
                    self.unaccount(freed);
                    return Poll::Ready(ready);
                }
                self.waiters.register(id, cx.waker());
            }
            // Another reader is polling the upstream: it wakes us with what it gets.
            let Some(mut upstream) = self.upstream.try_lock() else {
                return Poll::Pending;
            };
            let caught_up = {
                let s = self.state.lock();
                *pos == s.recorded() && s.end.is_none() && (leader || !s.too_large)
            };
            if !caught_up {
                continue;
            }
            let Some(body) = upstream.as_mut() else {
                return Poll::Ready(Some(Err(ReplayError::Gone.into())));
            };
            let piece = match Pin::new(body).poll_next(&mut Context::from_waker(&self.fanout)) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(piece) => piece,
            };
            let mut s = self.state.lock();
            match piece {
                Some(Ok(chunk)) if s.too_large => {
                    // Only the leader reads on, and it has read everything recorded.
                    s.base += 1;
                    *pos += 1;
                    s.leader_pos = Some(*pos);
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Some(Ok(chunk)) => {
                    let freed = self.append(&mut s, chunk);
                    drop(s);
                    drop(upstream);
                    self.unaccount(freed);
                    self.waiters.wake_all(Some(id));
                    // Loop: the chunk is returned from the recording.
                }
                Some(Err(e)) => {
                    s.end = Some(End::BrokeOff(e.to_string().into()));
                    self.finish(s, upstream);
                    return Poll::Ready(Some(Err(e.into())));
                }
                None => {
                    s.end = Some(End::Complete);
                    self.finish(s, upstream);
                }
            }
        }
    }

    /// A recorded chunk or the recorded end for the reader at `pos`, if there is one.
    fn take_recorded(
        s: &mut State,
        leader: bool,
        pos: &mut usize,
    ) -> Option<Option<Result<Bytes, BoxError>>> {
        if !leader && s.too_large {
            return Some(Some(Err(ReplayError::TooLarge.into())));
        }
        if *pos >= s.base
            && let Some(chunk) = s.chunks.get(*pos - s.base)
        {
            let chunk = chunk.clone();
            *pos += 1;
            if leader {
                s.leader_pos = Some(*pos);
            }
            return Some(Some(Ok(chunk)));
        }
        Some(match s.end.clone()? {
            End::Complete => None,
            End::BrokeOff(msg) => Some(Err(ReplayError::BrokeOff(msg).into())),
            End::Cancelled => Some(Err(ReplayError::Gone.into())),
        })
    }

    /// Appends a chunk, switching to "too large" past a limit. Returns the bytes freed.
    fn append(&self, s: &mut State, chunk: Bytes) -> usize {
        let len = chunk.len();
        let over = self.owner.upgrade().is_none_or(|owner| {
            let total_before = owner.bytes.fetch_add(len, Ordering::Relaxed);
            s.bytes + len > owner.cfg.max_body_bytes
                || total_before + len > owner.cfg.max_total_bytes
        });
        s.bytes += len;
        s.chunks.push(chunk);
        if over && !s.too_large {
            tracing::debug!(key = %self.key, bytes = s.bytes, "idempotent response too large to share");
            s.too_large = true;
        }
        s.free_unneeded()
    }

    /// The upstream body ended (`s.end` is set): drops it, decides keep or release, and
    /// wakes every reader.
    fn finish(
        self: &Arc<Self>,
        mut s: parking_lot::MutexGuard<'_, State>,
        mut upstream: parking_lot::MutexGuard<'_, Option<BodyDataStream>>,
    ) {
        let outcome = Self::settle(&mut s);
        drop(s);
        let body = upstream.take();
        self.publish(outcome);
        drop(upstream);
        drop(body);
        self.waiters.wake_all(None);
    }

    /// Under the state lock: whether the finished exchange stays for replay. Complete
    /// answers stay unless their status invites a retry (408, 429, 5xx); so does the
    /// "too large" marker. Broken and cancelled answers are released.
    fn settle(s: &mut State) -> Outcome {
        let retryable = |status: StatusCode| {
            status.is_server_error()
                || status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT
        };
        let keep = match (&s.end, &s.head) {
            (Some(End::Complete), Some((status, _))) => s.too_large || !retryable(*status),
            (Some(End::Cancelled), Some((status, _))) => s.too_large && !retryable(*status),
            _ => false,
        };
        if keep {
            Outcome::Keep(Instant::now())
        } else {
            s.released = true;
            Outcome::Release
        }
    }

    /// Tells the table: keep until `window` after now, or forget the key now.
    fn publish(self: &Arc<Self>, outcome: Outcome) {
        let Some(owner) = self.owner.upgrade() else {
            return;
        };
        let removed = {
            let mut table = owner.table.lock();
            match outcome {
                Outcome::Keep(now) => {
                    let at = now + owner.cfg.window;
                    self.state.lock().expires_at = Some(at);
                    table.schedule(at, self);
                    None
                }
                Outcome::Release => table.forget(self),
            }
        };
        drop(removed);
    }

    fn unaccount(&self, freed: usize) {
        if freed > 0
            && let Some(owner) = self.owner.upgrade()
        {
            owner.bytes.fetch_sub(freed, Ordering::Relaxed);
        }
    }

    /// A token went away. The last one cancels an upstream body still being read; otherwise
    /// the others are woken, in case the upstream's last wake-up went to this one.
    fn detach(self: &Arc<Self>, id: u64, leader: bool) {
        self.waiters.remove(id);
        let (freed, in_flight, cancelled) = {
            let mut s = self.state.lock();
            s.consumers -= 1;
            if leader {
                s.leader_pos = None;
            }
            let in_flight = s.head.is_some() && s.end.is_none();
            let cancelled = (in_flight && s.consumers == 0).then(|| {
                s.end = Some(End::Cancelled);
                Self::settle(&mut s)
            });
            (s.free_unneeded(), in_flight, cancelled)
        };
        self.unaccount(freed);
        match cancelled {
            Some(outcome) => {
                let body = self.upstream.lock().take();
                self.publish(outcome);
                drop(body);
            }
            None if in_flight => self.waiters.wake_all(None),
            None => {}
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let bytes = self.state.get_mut().bytes;
        self.unaccount(bytes);
    }
}

/// What a follower's claim turns into.
pub(super) type Claimed = Result<Response, Conflict>;

/// One live interest in an entry: the leader (before and after `record`), a follower waiting
/// for the head, or a reader. Dropping it is how an entry learns that nobody wants the rest.
pub(super) struct Token {
    pub(super) entry: Arc<Entry>,
    id: u64,
    leader: bool,
}

impl Token {
    /// A follower's answer, once the leader has one.
    pub(super) async fn response(self) -> Claimed {
        let entry = Arc::clone(&self.entry);
        let mut token = Some(self);
        std::future::poll_fn(|cx| entry.poll_head(&mut token, cx)).await
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.entry.detach(self.id, self.leader);
    }
}

/// A response body replaying an entry, for the leader or a follower.
struct Reader {
    token: Token,
    pos: usize,
    done: bool,
}

impl Stream for Reader {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let (id, leader) = (this.token.id, this.token.leader);
        let next = this.token.entry.poll_read(id, leader, &mut this.pos, cx);
        if matches!(next, Poll::Ready(None | Some(Err(_)))) {
            this.done = true;
        }
        next
    }
}

/// The wakers of readers waiting for the next piece, by token id.
#[derive(Default)]
struct Waiters(Mutex<Vec<(u64, Waker)>>);

impl Waiters {
    fn register(&self, id: u64, waker: &Waker) {
        let mut list = self.0.lock();
        match list.iter_mut().find(|(i, _)| *i == id) {
            Some((_, w)) => w.clone_from(waker),
            None => list.push((id, waker.clone())),
        }
    }

    fn remove(&self, id: u64) {
        self.0.lock().retain(|(i, _)| *i != id);
    }

    fn wake_all(&self, except: Option<u64>) {
        let list = mem::take(&mut *self.0.lock());
        for (id, waker) in list {
            if Some(id) != except {
                waker.wake();
            }
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_all(None);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all(None);
    }
}
