//! [`JsonError`]: a JSON syntax or shape error with its position in the input.

use std::fmt;

/// A JSON error with the 1-based line and column where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// 1-based line of the error (0 when the error has no position, e.g. from serializing).
    pub line: usize,
    /// 1-based column of the error (0 when the error has no position).
    pub column: usize,
    /// What was wrong, without the position.
    pub message: String,
}

impl JsonError {
    /// An error at byte `offset` of `input`.
    pub(crate) fn at_offset(input: &[u8], offset: usize, message: &str) -> Self {
        let before = &input[..offset.min(input.len())];
        let line = 1 + memchr::memchr_iter(b'\n', before).count();
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
        Self {
            line,
            column: offset - line_start + 1,
            message: message.to_owned(),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.message, self.line, self.column
        )
    }
}

impl std::error::Error for JsonError {}

impl From<serde_json::Error> for JsonError {
    fn from(err: serde_json::Error) -> Self {
        let (line, column) = (err.line(), err.column());
        let mut message = err.to_string();
        let suffix = format!(" at line {line} column {column}");
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message.truncate(stripped.len());
        }
        Self {
            line,
            column,
            message,
        }
    }
}
