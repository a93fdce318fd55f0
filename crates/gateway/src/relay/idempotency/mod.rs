//! Idempotency keys: requests that carry the same `Idempotency-Key` (or `X-Idempotency-Key`)
//! and the same content share one upstream call and get the same answer, streams included —
//! concurrent ones while it runs and repeated ones for a short window after it finished.
//!
//! ```text
//! match idempotency.claim(&scoped_key, fingerprint).await {
//!     Claim::Leader(leader) => leader.record(forward(..).await),   // runs the request
//!     Claim::Follower(response) => response,                        // someone else's answer
//!     Claim::Conflict(conflict) => render(conflict),                // 409, see `Conflict`
//! }
//! ```
//!
//! Semantics:
//! - **Leader.** The first claim of a key leads: it runs the request and hands its response
//!   to [`Leader::record`], which returns the response to send. The leader's client gets its
//!   body exactly as before: each chunk as soon as it arrives, nothing buffered; a body of
//!   known length keeps its `content-length`.
//! - **Followers** get the leader's status and headers (minus `x-request-id`, which is their
//!   own, plus `idempotent-replayed: true`) and the same body chunks in the same order and
//!   boundaries. A follower that arrives mid-stream gets everything so far at once, then
//!   each chunk as it arrives; a follower that arrives before the leader has a response
//!   waits for it inside `claim`. An upstream body error is replayed as an error at the
//!   same point, so every follower sees the same truncated answer.
//! - **Who reads the upstream** (pull-based, no task, no channel): every reader that has
//!   caught up with the recording may poll the upstream body; whoever polls first appends
//!   the chunk and wakes the others. So the upstream is read as long as *any* reader wants
//!   more: if the leader's client goes away mid-stream, attached followers keep it going
//!   and get the whole body; if nobody else is attached, dropping the leader's body drops
//!   (cancels) the upstream body exactly as without idempotency, and the key is released.
//!   A slow reader never holds the others back; it catches up from the recording.
//! - **Before the response.** The leader's request up to its response head runs in the
//!   leader's own handler future. If that is dropped (client gone, panic) or errors without
//!   calling `record`, the `Leader` is dropped: waiting followers get
//!   [`Conflict::OriginalFailed`] and the key is released, so a retry leads again.
//! - **Window.** An entry lives until `window` after the leader's response completed. Only
//!   complete answers whose status does not invite a retry stay for replay: after a 408,
//!   429 or 5xx, a body that broke off, or a cancelled body, the key is released when the
//!   body ends (followers attached by then still share that answer), so that a client's
//!   retry reaches the upstream again instead of replaying the failure for the window.
//! - **Size.** A body is recorded up to `max_body_bytes`, and all entries together up to
//!   `max_total_bytes`. Past either, the entry becomes "too large": the leader reads on
//!   alone and unaffected; followers already reading get an error at that point (their
//!   answer is cut off — every follower gets either the whole answer or a visibly broken
//!   one, never a silently different one); later claims within the window get
//!   [`Conflict::TooLarge`]. The recorded chunks are freed as soon as the leader has read
//!   them.
//! - **Bounded table.** Expired entries are purged on every claim. If `max_entries` live
//!   entries remain, the new key is not tracked: the claim returns a [`Leader`] that records
//!   nothing (`Leader::is_tracked` is false) and the request runs as a plain request.
//! - **Conflict.** The same key with a different fingerprint gets [`Conflict::KeyReused`].

mod entry;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Weak};

use axum::response::Response;
use http::{HeaderMap, StatusCode};
use parking_lot::Mutex;
use tokio::time::{Duration, Instant};

pub use entry::ReplayError;
use entry::{Entry, Join, Token};

/// The request headers that carry a key, in order of preference.
const KEY_HEADERS: [&str; 2] = ["idempotency-key", "x-idempotency-key"];
/// The longest key accepted.
const MAX_KEY_LEN: usize = 255;
/// Marks a follower's response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

#[derive(Debug, Clone)]
pub struct IdempotencyConfig {
    /// How long a completed answer is replayed.
    pub window: Duration,
    /// Keys tracked at once (in flight plus within the window).
    pub max_entries: usize,
    /// The largest body kept for replay.
    pub max_body_bytes: usize,
    /// All kept bodies together.
    pub max_total_bytes: usize,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(5),
            max_entries: 10_000,
            max_body_bytes: 8 << 20,
            max_total_bytes: 256 << 20,
        }
    }
}

/// Why a claim cannot be answered by running or sharing the request. The caller renders it
/// in the client's dialect with [`Conflict::status`] (409 for all three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("this Idempotency-Key was already used with a different request")]
    KeyReused,
    #[error(
        "the original request with this Idempotency-Key failed before answering; retry to run it again"
    )]
    OriginalFailed,
    #[error("the original response to this Idempotency-Key is too large to share; use a new key")]
    TooLarge,
}

impl Conflict {
    pub fn status(self) -> StatusCode {
        StatusCode::CONFLICT
    }

    /// A stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::KeyReused => "idempotency_key_reused",
            Self::OriginalFailed => "idempotency_original_failed",
            Self::TooLarge => "idempotency_response_too_large",
        }
    }
}

/// The outcome of [`Idempotency::claim`].
pub enum Claim {
    /// First request with this key: run it, then pass the response through
    /// [`Leader::record`].
    Leader(Leader),
    /// Someone is running (or ran, within the window) the same request: this is their answer.
    Follower(Response),
    /// The key cannot be used for this request; answer with the error.
    Conflict(Conflict),
}

/// The right (and duty) to run a claimed request. Dropping it without `record` tells the
/// waiting followers that the request failed and releases the key.
pub struct Leader {
    /// `None` when the table was full and the key is not tracked.
    token: Option<Token>,
}

impl Leader {
    /// Shares the response with the followers and returns the one to send to the leader's
    /// client; see the module docs for how its body is read.
    pub fn record(mut self, response: Response) -> Response {
        match self.token.take() {
            Some(token) => Arc::clone(&token.entry).record(token, response),
            None => response,
        }
    }

    /// Whether followers can share this request (false when the table was full).
    pub fn is_tracked(&self) -> bool {
        self.token.is_some()
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.entry.fail();
        }
    }
}

/// The table of keys; cheap to clone, held in the app state.
#[derive(Clone)]
pub struct Idempotency(Arc<Inner>);

struct Inner {
    cfg: IdempotencyConfig,
    table: Mutex<Table>,
    /// Bytes of body held by all entries.
    bytes: AtomicUsize,
}

#[derive(Default)]
struct Table {
    map: HashMap<Arc<str>, Arc<Entry>>,
    /// Entries kept for replay, in order of expiry.
    expiries: VecDeque<(Instant, Weak<Entry>)>,
}

impl Table {
    /// Removes the expired entries (returned, to be dropped without the lock).
    fn purge(&mut self, now: Instant) -> Vec<Arc<Entry>> {
        let mut gone = Vec::new();
        while let Some((at, _)) = self.expiries.front()
            && *at <= now
        {
            if let Some((_, weak)) = self.expiries.pop_front()
                && let Some(entry) = weak.upgrade()
            {
                gone.extend(self.forget(&entry));
            }
        }
        gone
    }

    /// Removes `entry` if the map still holds this very entry for its key.
    fn forget(&mut self, entry: &Entry) -> Option<Arc<Entry>> {
        let current = self.map.get(&entry.key)?;
        if std::ptr::eq(Arc::as_ptr(current), entry) {
            self.map.remove(&entry.key)
        } else {
            None
        }
    }

    fn schedule(&mut self, at: Instant, entry: &Arc<Entry>) {
        self.expiries.push_back((at, Arc::downgrade(entry)));
    }
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("cfg", &self.0.cfg)
            .field("entries", &self.0.table.lock().map.len())
            .finish()
    }
}

impl Idempotency {
    pub fn new(cfg: IdempotencyConfig) -> Self {
        Self(Arc::new(Inner {
            cfg,
            table: Mutex::new(Table::default()),
            bytes: AtomicUsize::new(0),
        }))
    }

    /// Claims `key` (the header value scoped by the caller, e.g. `principal:key`) for a
    /// request with this `fingerprint` (see [`fingerprint`]). A follower waits here until
    /// the leader has its response head.
    pub async fn claim(&self, key: &str, fingerprint: u64) -> Claim {
        match self.join(key, fingerprint) {
            Joined::Leader(leader) => Claim::Leader(leader),
            Joined::Conflict(conflict) => Claim::Conflict(conflict),
            Joined::Follower(token) => match token.response().await {
                Ok(response) => Claim::Follower(response),
                Err(conflict) => Claim::Conflict(conflict),
            },
        }
    }

    fn join(&self, key: &str, fingerprint: u64) -> Joined {
        let now = Instant::now();
        let mut table = self.0.table.lock();
        // Dropped after the lock is released: the last reference may drop a body.
        let mut gone = table.purge(now);
        if let Some(entry) = table.map.get(key) {
            match entry.join(fingerprint, now) {
                Join::Follower(token) => return Joined::Follower(token),
                Join::Conflict(conflict) => return Joined::Conflict(conflict),
                Join::Stale => gone.extend(table.map.remove(key)),
            }
        }
        if table.map.len() >= self.0.cfg.max_entries {
            // Entries released or expired but not yet removed by their own path.
            table.map.retain(|_, entry| {
                let expired = entry.expired(now);
                if expired {
                    gone.push(Arc::clone(entry));
                }
                !expired
            });
        }
        if table.map.len() >= self.0.cfg.max_entries {
            tracing::debug!(key, "idempotency table full; the request runs untracked");
            return Joined::Leader(Leader { token: None });
        }
        let key: Arc<str> = key.into();
        let token = Entry::create(Arc::clone(&key), fingerprint, Arc::downgrade(&self.0));
        table.map.insert(key, Arc::clone(&token.entry));
        drop(table);
        drop(gone);
        Joined::Leader(Leader { token: Some(token) })
    }

    /// The client's key: `Idempotency-Key`, else `X-Idempotency-Key`; trimmed, non-empty,
    /// at most 255 characters. An unusable value counts as no key.
    pub fn key_from_headers(headers: &HeaderMap) -> Option<&str> {
        KEY_HEADERS.iter().find_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?.trim();
            (!value.is_empty() && value.len() <= MAX_KEY_LEN).then_some(value)
        })
    }

    /// Bytes of response body held for replay by all entries.
    pub fn held_bytes(&self) -> usize {
        self.0.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Keys tracked right now (in flight or within their window, until purged).
    pub fn len(&self) -> usize {
        self.0.table.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

enum Joined {
    Leader(Leader),
    Follower(Token),
    Conflict(Conflict),
}

/// A fingerprint of a request: method, path and body. Hashing is linear in the body; the
/// gateway's body limit keeps it in the low milliseconds at worst.
pub fn fingerprint(method: &http::Method, path: &str, body: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    method.as_str().hash(&mut h);
    path.hash(&mut h);
    body.hash(&mut h);
    h.finish()
}
