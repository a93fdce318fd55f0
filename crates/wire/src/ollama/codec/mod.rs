//! Ollama ↔ the canonical model: chat and generate requests, answers and stream lines.
//!
//! What does not survive, on purpose:
//! - Ollama tool calls have no id: each gets `call_<message>_<index>_<name>` when decoded, and
//!   a `tool` message answers the first unanswered call of the same name in the latest
//!   assistant turn (or, without `tool_name`, the next unanswered one);
//! - `think: true` is the effort `medium`; a token budget is sent as the nearest effort;
//! - model options without an upstream counterpart (`num_ctx`, `repeat_penalty`,
//!   `mirostat`, …), `keep_alive`, and generate's `suffix`, `raw`, `context`, `template` ride
//!   in the passthrough bag: no upstream receives them;
//! - `done_reason` is `length` for the token limit and `stop` for every other end (tool calls
//!   included, as Ollama says it);
//! - usage: `prompt_eval_count` is every input token (cached included), `eval_count` every
//!   output token (reasoning included); the cache breakdown has no Ollama field.

mod request;
mod response;
mod stream;
#[cfg(test)]
mod tests;

pub use request::{decode_chat, decode_generate, encode_chat, is_generate, tool_call_id};
pub use response::{decode_response, done_reason, encode_response, metrics, stop_reason};
pub use stream::{ChunkDecoder, ChunkEncoder};

/// A time as RFC 3339 in UTC with microseconds, as Ollama writes `created_at`.
pub fn rfc3339(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_micros()
    )
}
