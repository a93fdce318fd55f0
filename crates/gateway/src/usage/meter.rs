//! [`Meter`]: the accounting one request carries to its end — its limits admission, where
//! its usage record goes, and what was relayed to the client. When the request's
//! [`Exchange`] finishes (completed, failed, or the client went away) the meter prices the
//! usage, records it, settles the admission to the actual tokens and cost, and charges a
//! billed user's balance in the database — the last two in a tracked background task.
//!
//! **Usage counted by the gateway.** A stream that ends without the upstream reporting usage
//! (the client went away, or the upstream cut it, before the final usage chunk) is charged
//! for exactly what was relayed: the output tokens of the completion text and tool-call
//! argument deltas sent to the client, counted with the model family's BPE (`o200k_base`,
//! or `cl100k_base` for GPT-4 / GPT-3.5 models), and the input tokens of the estimate used
//! for admission. The usage record carries no flag for this (the stored schema has none);
//! a log line says so.

use std::str::FromStr;

use serde::Deserialize;
use tokio_util::task::TaskTracker;
use wire::Usage;

use super::{UsageHandle, UsageRecord, cost_micros, unix_ms};
use crate::limits::{Admission, BalanceTicket, Limiter};
use crate::providers::Prices;
use crate::telemetry::Exchange;

/// The actor written to the balance ledger for the gateway's charges.
pub const LEDGER_ACTOR: &str = "gateway";

/// Per-request accounting, filled in along the request path.
pub struct Meter {
    pub usage: Option<UsageHandle>,
    pub limiter: Limiter,
    pub admission: Option<Admission>,
    /// Prices of the target that answered.
    pub prices: Option<Prices>,
    pub key_id: Option<String>,
    pub user_id: Option<String>,
    pub tasks: TaskTracker,
    /// Where a billed user's balance is charged.
    pub store: Option<store::Store>,
    /// The prompt tokens estimated for admission: the input of a stream that ended without
    /// reported usage.
    pub estimated_input: u64,
    /// Output relayed to the client so far (streams only).
    pub relayed: Relayed,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("key_id", &self.key_id)
            .field("admitted", &self.admission.is_some())
            .finish_non_exhaustive()
    }
}

/// The generated text and tool-call arguments of the chunks relayed to the client.
#[derive(Debug, Default)]
pub struct Relayed {
    text: String,
}

/// The parts of an OpenAI stream chunk that carry output.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<ChunkChoice<'a>>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    /// Legacy completions put the text here.
    #[serde(default, borrow)]
    text: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<std::borrow::Cow<'a, str>>,
    /// Reasoning text some OpenAI-compatible servers stream (DeepSeek, vLLM).
    #[serde(default, borrow)]
    reasoning_content: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ToolCallDelta<'a>>>,
}

#[derive(Deserialize)]
struct ToolCallDelta<'a> {
    #[serde(default, borrow)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(default, borrow)]
    arguments: Option<std::borrow::Cow<'a, str>>,
}

impl Relayed {
    /// Reads the output of one relayed stream event (an OpenAI chunk's JSON). Events that
    /// are not chunks are ignored.
    pub fn observe(&mut self, data: &[u8]) {
        let Ok(chunk) = serde_json::from_slice::<Chunk<'_>>(data) else {
            return;
        };
        for choice in chunk.choices {
            if let Some(text) = choice.text {
                self.text.push_str(&text);
            }
            let Some(delta) = choice.delta else { continue };
            for part in [delta.content, delta.reasoning_content]
                .into_iter()
                .flatten()
            {
                self.text.push_str(&part);
            }
            for call in delta.tool_calls.into_iter().flatten() {
                if let Some(args) = call.function.and_then(|f| f.arguments) {
                    self.text.push_str(&args);
                }
            }
        }
    }

    /// Adds output text already decoded (a translated stream's text, reasoning or tool-call
    /// arguments).
    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// Output tokens of `text` as `model` would count them.
pub fn count_output_tokens(model: &str, text: &str) -> u64 {
    use tiktoken_rs::tokenizer::{Tokenizer, get_tokenizer};
    let bpe = match get_tokenizer(model) {
        Some(Tokenizer::Cl100kBase) => tiktoken_rs::cl100k_base_singleton(),
        // o200k for the current OpenAI families, and the closest guess for other models.
        _ => tiktoken_rs::o200k_base_singleton(),
    };
    bpe.encode_ordinary(text).len() as u64
}

impl Meter {
    /// Records the request's usage and settles its admission. A request that produced no
    /// output costs nothing; one cut short is charged for what it produced (see the module
    /// docs).
    pub fn finish(mut self, exchange: &Exchange) {
        let record = self.record_for(exchange);
        let reached_upstream = exchange.status == 200 || exchange.usage.is_some();
        match exchange.usage {
            Some(usage) => self.conclude(record, usage, reached_upstream),
            None if !self.relayed.is_empty() => {
                // Counting tokens is CPU work (and the first use loads the BPE tables):
                // never on the caller's path, which may be a drop.
                let text = std::mem::take(&mut self.relayed.text);
                let model = exchange.upstream_model.clone().unwrap_or_default();
                let input = self.estimated_input;
                let tasks = self.tasks.clone();
                tasks.spawn(async move {
                    let output =
                        tokio::task::spawn_blocking(move || count_output_tokens(&model, &text))
                            .await
                            .unwrap_or(0);
                    tracing::info!(
                        request_id = %record.request_id,
                        input_tokens = input,
                        output_tokens = output,
                        "usage counted by the gateway: the stream ended before the upstream reported usage"
                    );
                    let usage = Usage {
                        input,
                        output,
                        ..Usage::default()
                    };
                    self.conclude(record, usage, true);
                });
            }
            None => self.conclude(record, Usage::default(), reached_upstream),
        }
    }

    /// The usage record of this request, without usage and cost yet.
    fn record_for(&self, exchange: &Exchange) -> UsageRecord {
        UsageRecord {
            at: unix_ms(exchange.started_wall),
            request_id: exchange.request_id.to_string(),
            key_id: self.key_id.clone(),
            user_id: self.user_id.clone(),
            requested_model: exchange.model.clone().unwrap_or_default(),
            provider: exchange.provider.clone(),
            upstream_model: exchange.upstream_model.clone(),
            dialect_in: exchange.dialect,
            dialect_out: exchange.provider.as_ref().map(|_| exchange.wire),
            usage: Usage::default(),
            cost_micros: None,
            latency_ms: u64::try_from(exchange.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            ttft_ms: exchange
                .first_byte
                .map(|t| u64::try_from((t - exchange.started).as_millis()).unwrap_or(u64::MAX)),
            status: exchange.status,
            attempts: exchange.attempts,
            cache_hit: false,
        }
    }

    /// Prices `usage`, records it, and settles the admission and the user's balance.
    fn conclude(self, mut record: UsageRecord, usage: Usage, reached_upstream: bool) {
        let cost = if reached_upstream {
            self.prices.as_ref().and_then(|p| cost_micros(&usage, p))
        } else {
            Some(0)
        };
        record.usage = usage;
        record.cost_micros = cost;
        let request_id = record.request_id.clone();
        if let Some(handle) = &self.usage {
            handle.record(record);
        }
        let Some(admission) = self.admission else {
            return;
        };
        let limiter = self.limiter;
        let tokens = usage.total();
        let cost = cost.unwrap_or(0);
        let charge = admission
            .balance_ticket()
            .zip(self.store)
            .filter(|_| cost > 0);
        // Counters in this instance's memory settle at once (a few map updates under a
        // short lock). Settling in Redis and charging the database are never on the
        // caller's path (this runs from Drop too).
        let admission = if charge.is_none() {
            match limiter.settle_in_memory(admission, tokens, cost) {
                None => return,
                Some(admission) => admission,
            }
        } else {
            admission
        };
        self.tasks.spawn(async move {
            limiter.settle(admission, tokens, cost).await;
            if let Some((ticket, store)) = charge {
                charge_balance(&limiter, &store, &ticket, cost, request_id).await;
            }
        });
    }
}

/// Writes a settled charge to the user's balance and its ledger (with the request id).
async fn charge_balance(
    limiter: &Limiter,
    store: &store::Store,
    ticket: &BalanceTicket,
    cost: i64,
    request_id: String,
) {
    let user = ticket.user();
    let Ok(id) = uuid::Uuid::from_str(user) else {
        tracing::error!(user, "billed user id is not a UUID; charge not written");
        return;
    };
    let audit = store::Audit {
        actor: Some(LEDGER_ACTOR.to_owned()),
        note: None,
        request_id: Some(request_id.clone()),
    };
    match store.settle(id, cost, &audit).await {
        Ok(_) => limiter.balance_written(ticket, cost).await,
        // The charge stays counted in memory (the user cannot spend it twice) until restart.
        Err(e) => tracing::error!(
            user,
            request_id,
            cost_micros = cost,
            error = %e,
            "could not write a balance charge"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_output_is_read_from_chunks() {
        let mut r = Relayed::default();
        r.observe(br#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#);
        r.observe(br#"{"choices":[{"index":0,"delta":{"content":"Hello"}}]}"#);
        r.observe(br#"{"choices":[{"index":0,"delta":{"content":" there\n"}}]}"#);
        r.observe(
            br#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}"#,
        );
        r.observe(br#"{"choices":[{"index":0,"text":" 1}"}]}"#);
        r.observe(br#"{"choices":[],"usage":null}"#);
        r.observe(b"not json");
        assert_eq!(r.text, "Hello there\n{\"a\": 1}");
    }

    #[test]
    fn tokens_are_counted_with_the_models_bpe() {
        assert_eq!(
            count_output_tokens("gpt-4o-mini", "Hello there my friend"),
            4
        );
        assert_eq!(
            count_output_tokens("gpt-4-0613", "Hello there my friend"),
            4
        );
        assert_eq!(count_output_tokens("llama-3", ""), 0);
    }
}
