//! The incremental decoder: bytes in with [`SseDecoder::push`], events out with
//! [`SseDecoder::next_event`]. Each byte is scanned once (the decoder remembers where it
//! stopped), and each event's `raw` is split off the buffer without copying.

use bytes::{Buf, BytesMut};
use memchr::{memchr, memchr2};

use super::{SseError, SseEvent};

/// Default limit on the size of one event block: 16 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Incremental Server-Sent Events decoder.
///
/// Push chunks as they arrive, then call [`next_event`](Self::next_event) until it returns
/// `Ok(None)`. At end of stream call [`finish`](Self::finish) until it returns `Ok(None)`.
/// Line endings may be `\n`, `\r\n` or `\r`, split anywhere across chunks.
#[derive(Debug)]
pub struct SseDecoder {
    /// Holds exactly the block being decoded (complete blocks are split off as they finish).
    buf: BytesMut,
    /// Start of the current, not yet terminated, line within `buf`.
    line_start: usize,
    /// Where to resume looking for a line terminator: `buf[line_start..search_from]` has none.
    search_from: usize,
    block: Block,
    bom_checked: bool,
    finished: bool,
    failed: bool,
    max_event_bytes: usize,
}

/// Fields of the block being decoded.
#[derive(Debug, Default)]
struct Block {
    /// At least one non-blank line was seen, so a blank line ends an event.
    has_lines: bool,
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the default event size limit ([`DEFAULT_MAX_EVENT_BYTES`]).
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A decoder that fails with [`SseError::EventTooLarge`] once one event block (including
    /// its line breaks) is longer than `max` bytes.
    pub fn with_max_event_bytes(max: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            line_start: 0,
            search_from: 0,
            block: Block::default(),
            bom_checked: false,
            finished: false,
            failed: false,
            max_event_bytes: max,
        }
    }

    /// Appends the next chunk of the stream. Chunks may split lines, line endings and
    /// UTF-8 sequences anywhere.
    pub fn push(&mut self, chunk: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// The next complete event, or `Ok(None)` when more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, SseError> {
        self.decode()
    }

    /// Marks the end of the stream and returns the next remaining event: first any complete
    /// ones still buffered, then a trailing block that lacks its final blank line. Call until
    /// it returns `Ok(None)`.
    pub fn finish(&mut self) -> Result<Option<SseEvent>, SseError> {
        self.finished = true;
        self.decode()
    }

    fn decode(&mut self) -> Result<Option<SseEvent>, SseError> {
        if self.failed {
            return Err(self.too_large());
        }
        if !self.bom_checked {
            if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf[..]) && !self.finished {
                return Ok(None);
            }
            if self.buf.starts_with(BOM) {
                self.buf.advance(BOM.len());
            }
            self.bom_checked = true;
        }
        while let Some(offset) = memchr2(b'\n', b'\r', &self.buf[self.search_from..]) {
            let line_end = self.search_from + offset;
            let next = if self.buf[line_end] == b'\r' {
                match self.buf.get(line_end + 1) {
                    Some(b'\n') => line_end + 2,
                    Some(_) => line_end + 1,
                    None if self.finished => line_end + 1,
                    None => {
                        // A `\r` at the end: wait to see whether `\n` follows, so `raw` and the
                        // line split do not depend on where the chunks were cut.
                        self.search_from = line_end;
                        return self.check_incomplete_size();
                    }
                }
            } else {
                line_end + 1
            };
            let line_start = self.line_start;
            self.line_start = next;
            self.search_from = next;
            if line_end > line_start {
                process_line(&mut self.block, &self.buf[line_start..line_end]);
            } else if self.block.has_lines {
                return self.complete(next, 0).map(Some);
            } else {
                // A blank line outside any block dispatches nothing; drop it.
                self.buf.advance(next);
                self.line_start = 0;
                self.search_from = 0;
            }
        }
        self.search_from = self.buf.len();
        if self.finished {
            return self.flush_trailing();
        }
        self.check_incomplete_size()
    }

    /// At end of stream: the buffer holds one block without its blank line, perhaps ending
    /// in an unterminated line. Emit it with the missing line breaks added to `raw`.
    fn flush_trailing(&mut self) -> Result<Option<SseEvent>, SseError> {
        let missing = if self.line_start < self.buf.len() {
            process_line(&mut self.block, &self.buf[self.line_start..]);
            2
        } else {
            1
        };
        if !self.block.has_lines {
            return Ok(None);
        }
        let len = self.buf.len();
        self.complete(len, missing).map(Some)
    }

    fn check_incomplete_size(&mut self) -> Result<Option<SseEvent>, SseError> {
        if self.buf.len() > self.max_event_bytes {
            return Err(self.fail());
        }
        Ok(None)
    }

    /// Splits the first `len` bytes off as the event's `raw`, appending `missing` line feeds.
    fn complete(&mut self, len: usize, missing: usize) -> Result<SseEvent, SseError> {
        if len + missing > self.max_event_bytes {
            return Err(self.fail());
        }
        let mut raw = self.buf.split_to(len);
        raw.extend_from_slice(&b"\n\n"[..missing]);
        self.line_start = 0;
        self.search_from = 0;
        let block = std::mem::take(&mut self.block);
        Ok(SseEvent {
            event: block.event,
            data: block.data.unwrap_or_default(),
            id: block.id,
            retry: block.retry,
            raw: raw.freeze(),
        })
    }

    fn fail(&mut self) -> SseError {
        self.failed = true;
        self.buf = BytesMut::new();
        self.block = Block::default();
        self.line_start = 0;
        self.search_from = 0;
        self.too_large()
    }

    fn too_large(&self) -> SseError {
        SseError::EventTooLarge {
            limit: self.max_event_bytes,
        }
    }
}

/// Applies one non-blank line (without its terminator) to the block being decoded.
fn process_line(block: &mut Block, line: &[u8]) {
    block.has_lines = true;
    if line.first() == Some(&b':') {
        return;
    }
    let (name, value) = match memchr(b':', line) {
        Some(colon) => {
            let value = &line[colon + 1..];
            (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
        }
        None => (line, &[][..]),
    };
    match name {
        b"data" => {
            let text = String::from_utf8_lossy(value);
            match &mut block.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(&text);
                }
                None => block.data = Some(text.into_owned()),
            }
        }
        b"event" => {
            block.event = (!value.is_empty()).then(|| String::from_utf8_lossy(value).into_owned());
        }
        // An id containing NUL is ignored.
        b"id" if !value.contains(&0) => {
            block.id = Some(String::from_utf8_lossy(value).into_owned());
        }
        // Only ASCII digits, so valid UTF-8; an empty or overflowing value is ignored.
        b"retry" if value.iter().all(u8::is_ascii_digit) => {
            if let Some(ms) = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()) {
                block.retry = Some(ms);
            }
        }
        _ => {}
    }
}
