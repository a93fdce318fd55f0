//! Helpers for the streaming fast path: read usage off a chunk's `data` without decoding
//! the whole chunk into [`ChatCompletionChunk`](super::ChatCompletionChunk).

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::Usage;

/// Only the `usage` of a chunk; every other field is skipped without allocating.
#[derive(Deserialize)]
struct UsageProbe {
    #[serde(default)]
    usage: Option<Usage>,
}

/// Only the shape of `choices` and whether `usage` is non-null.
#[derive(Deserialize)]
struct ShapeProbe {
    #[serde(default)]
    choices: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    usage: Option<IgnoredAny>,
}

/// The `usage` of one chunk's JSON `data`, when present and non-null.
///
/// Chunks without the text `"usage"` are rejected without parsing, so calling this on every
/// chunk of a stream is cheap.
pub fn chunk_usage(data: &str) -> Option<Usage> {
    if !mentions_usage(data) {
        return None;
    }
    serde_json::from_str::<UsageProbe>(data).ok()?.usage
}

/// Whether the chunk is the extra one `stream_options.include_usage` adds: `choices` is an
/// empty array and `usage` is non-null.
pub fn is_usage_only_chunk(data: &str) -> bool {
    if !mentions_usage(data) {
        return false;
    }
    match serde_json::from_str::<ShapeProbe>(data) {
        Ok(probe) => probe.choices.is_some_and(|c| c.is_empty()) && probe.usage.is_some(),
        Err(_) => false,
    }
}

fn mentions_usage(data: &str) -> bool {
    memchr::memmem::find(data.as_bytes(), b"\"usage\"").is_some()
}
