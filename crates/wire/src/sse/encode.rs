//! Rendering one event in the event-stream format.

use bytes::{Bytes, BytesMut};
use memchr::memchr2;

/// Renders one event: an optional `event:` line, one `data:` line per line of `data` (split
/// on `\n`, `\r\n` and `\r`), and the terminating blank line.
///
/// Line breaks inside `event` would end the field early, so they are removed. An empty
/// `event` is the default `message` type and decodes as `None`.
pub fn encode(event: Option<&str>, data: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + event.map_or(0, str::len) + 16);
    if let Some(event) = event {
        out.extend_from_slice(b"event: ");
        for part in event.split(['\r', '\n']) {
            out.extend_from_slice(part.as_bytes());
        }
        out.extend_from_slice(b"\n");
    }
    let bytes = data.as_bytes();
    let mut start = 0;
    loop {
        let (end, next) = match memchr2(b'\r', b'\n', &bytes[start..]) {
            Some(offset) => {
                let end = start + offset;
                let crlf = bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n');
                (end, end + if crlf { 2 } else { 1 })
            }
            None => (bytes.len(), bytes.len() + 1),
        };
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&bytes[start..end]);
        out.extend_from_slice(b"\n");
        if next > bytes.len() {
            break;
        }
        start = next;
    }
    out.extend_from_slice(b"\n");
    out.freeze()
}
