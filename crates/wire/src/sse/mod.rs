//! Server-Sent Events: an incremental decoder ([`SseDecoder`]) that follows the WHATWG
//! event-stream rules and keeps each event's raw bytes for zero-copy relaying, and
//! [`encode`] to render one event.
//!
//! Where this departs from a browser's `EventSource` (on purpose, for relays):
//! - every non-empty block is returned, not only blocks with `data` — comment-only
//!   keep-alives ([`SseEvent::is_comment`]) and blocks with only `event`/`id`/`retry` come out
//!   with `data == ""`, so forwarding `raw` loses nothing;
//! - [`SseDecoder::finish`] flushes a trailing block that lacks its blank line (a browser
//!   would drop it), completing its `raw` with the missing line breaks;
//! - `id` is the value set in this block, not the stream's running "last event ID".

mod decoder;
mod encode;
#[cfg(test)]
mod tests;

use bytes::Bytes;

pub use decoder::{DEFAULT_MAX_EVENT_BYTES, SseDecoder};
pub use encode::encode;

/// One decoded event block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` when absent or empty (the default `message` type).
    pub event: Option<String>,
    /// All `data:` lines joined with `\n`; empty when the block had no data line.
    pub data: String,
    /// The `id:` field of this block, if any (an empty `id:` is `Some("")`, which resets).
    pub id: Option<String>,
    /// The `retry:` field, when it was a valid base-10 integer.
    pub retry: Option<u64>,
    /// The exact bytes of this block as received, including its terminating blank line.
    pub raw: Bytes,
}

impl SseEvent {
    /// Whether this is the OpenAI end-of-stream sentinel `data: [DONE]`.
    pub fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }

    /// Whether the block held only comment lines (`:` keep-alives).
    pub fn is_comment(&self) -> bool {
        if self.event.is_some()
            || self.id.is_some()
            || self.retry.is_some()
            || !self.data.is_empty()
        {
            return false;
        }
        let mut saw_comment = false;
        for line in self.raw.split(|&b| b == b'\n' || b == b'\r') {
            match line.first() {
                None => {}
                Some(b':') => saw_comment = true,
                Some(_) => return false,
            }
        }
        saw_comment
    }
}

/// Why the decoder could not produce an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// One event block grew past the configured limit; the stream should be abandoned.
    #[error("server-sent event exceeds {limit} bytes")]
    EventTooLarge {
        /// The configured maximum size of one event block, in bytes.
        limit: usize,
    },
}
