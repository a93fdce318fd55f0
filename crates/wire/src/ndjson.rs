//! Newline-delimited JSON framing (Ollama's streams): an incremental decoder, bytes in →
//! complete lines out, bounded like the SSE decoder. Blank lines are skipped; a trailing
//! `\r` is dropped; [`LineDecoder::finish`] returns a last line that lacks its newline.

/// Why the decoder could not produce a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// One line grew past the configured limit; the stream should be abandoned.
    #[error("a line exceeds {limit} bytes")]
    LineTooLarge {
        /// The configured maximum size of one line, in bytes.
        limit: usize,
    },
    /// A line is not UTF-8.
    #[error("a line is not UTF-8")]
    NotUtf8,
}

/// The default bound on one line: 16 MiB, as for SSE events.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;

/// Splits a byte stream into lines.
#[derive(Debug)]
pub struct LineDecoder {
    buf: Vec<u8>,
    /// Where the next line begins in `buf`.
    start: usize,
    max: usize,
}

impl Default for LineDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl LineDecoder {
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_LINE_BYTES)
    }

    pub fn with_limit(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            max,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete, non-blank line, if one has arrived.
    pub fn next_line(&mut self) -> Result<Option<String>, LineError> {
        loop {
            let rest = &self.buf[self.start..];
            let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                if rest.len() > self.max {
                    return Err(LineError::LineTooLarge { limit: self.max });
                }
                self.compact();
                return Ok(None);
            };
            let line = &rest[..end];
            self.start += end + 1;
            if line.len() > self.max {
                return Err(LineError::LineTooLarge { limit: self.max });
            }
            if let Some(line) = Self::text(line)? {
                return Ok(Some(line));
            }
        }
    }

    /// The end of the stream: the last line when it had no newline.
    pub fn finish(&mut self) -> Result<Option<String>, LineError> {
        let rest = std::mem::take(&mut self.buf);
        let line = &rest[self.start.min(rest.len())..];
        self.start = 0;
        Self::text(line)
    }

    fn text(line: &[u8]) -> Result<Option<String>, LineError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        std::str::from_utf8(line)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| LineError::NotUtf8)
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_pushes_come_out_whole() -> Result<(), LineError> {
        let mut d = LineDecoder::new();
        d.push(b"{\"a\":1}\n{\"b\"");
        assert_eq!(d.next_line()?, Some("{\"a\":1}".into()));
        assert_eq!(d.next_line()?, None);
        d.push(b":2}\r\n\n  \n{\"c\":3}");
        assert_eq!(d.next_line()?, Some("{\"b\":2}".into()));
        assert_eq!(d.next_line()?, None);
        assert_eq!(d.finish()?, Some("{\"c\":3}".into()));
        assert_eq!(d.finish()?, None);
        Ok(())
    }

    #[test]
    fn an_overlong_line_is_an_error() {
        let mut d = LineDecoder::with_limit(4);
        d.push(b"123456");
        assert_eq!(d.next_line(), Err(LineError::LineTooLarge { limit: 4 }));
        let mut d = LineDecoder::with_limit(4);
        d.push(b"12\n3456789\n");
        assert_eq!(d.next_line(), Ok(Some("12".into())));
        assert_eq!(d.next_line(), Err(LineError::LineTooLarge { limit: 4 }));
    }
}
