//! [`Usage`]: token counts normalized across providers, the one shape accounting, limits and
//! pricing use. Providers disagree on whether "input" includes cached tokens and whether
//! "output" includes reasoning; here `input` never includes cache reads or writes, and
//! `output` always includes reasoning (`reasoning` is a breakdown of it).

use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

use crate::openai;

/// Normalized token usage of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens processed fresh: excludes cache reads and cache writes.
    pub input: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cache_read: u64,
    /// Input tokens written to the provider's prompt cache.
    pub cache_write: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// Of `output`, the tokens spent on reasoning.
    pub reasoning: u64,
}

impl Usage {
    /// From OpenAI's `usage`, whose `prompt_tokens` include the cached tokens and whose
    /// `completion_tokens` include reasoning. DeepSeek's `prompt_cache_hit_tokens` counts as
    /// cached when `prompt_tokens_details` is missing.
    pub fn from_openai(usage: &openai::Usage) -> Self {
        let cache_read = usage.cached_tokens().min(usage.prompt_tokens);
        Self {
            input: usage.prompt_tokens - cache_read,
            cache_read,
            cache_write: 0,
            output: usage.completion_tokens,
            reasoning: usage.reasoning_tokens().min(usage.completion_tokens),
        }
    }

    /// From an OpenAI embeddings `usage`: all input.
    pub fn from_openai_embedding(usage: &openai::EmbeddingUsage) -> Self {
        Self {
            input: usage.prompt_tokens,
            ..Self::default()
        }
    }

    /// All tokens: input, cache reads, cache writes and output (reasoning is part of output).
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write)
            .saturating_add(self.output)
    }

    /// Whether every count is zero.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

impl From<&openai::Usage> for Usage {
    fn from(usage: &openai::Usage) -> Self {
        Self::from_openai(usage)
    }
}

impl Add for Usage {
    type Output = Self;

    fn add(mut self, rhs: Self) -> Self {
        self += rhs;
        self
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, rhs: Self) {
        self.input = self.input.saturating_add(rhs.input);
        self.cache_read = self.cache_read.saturating_add(rhs.cache_read);
        self.cache_write = self.cache_write.saturating_add(rhs.cache_write);
        self.output = self.output.saturating_add(rhs.output);
        self.reasoning = self.reasoning.saturating_add(rhs.reasoning);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn openai(value: serde_json::Value) -> openai::Usage {
        serde_json::from_value(value).expect("valid usage")
    }

    #[test]
    fn plain_usage_is_all_input_and_output() {
        let usage = Usage::from_openai(&openai::Usage::new(100, 20));
        assert_eq!(
            usage,
            Usage {
                input: 100,
                output: 20,
                ..Usage::default()
            }
        );
        assert_eq!(usage.total(), 120);
    }

    #[test]
    fn cached_tokens_move_out_of_input_and_reasoning_stays_in_output() {
        let usage = Usage::from_openai(&openai(json!({
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 256,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        })));
        assert_eq!(
            usage,
            Usage {
                input: 86,
                cache_read: 1920,
                cache_write: 0,
                output: 300,
                reasoning: 256,
            }
        );
        // The total is the provider's total: nothing double counted.
        assert_eq!(usage.total(), 2306);
    }

    #[test]
    fn null_details_count_as_zero() {
        let usage = Usage::from_openai(&openai(json!({
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": null},
            "completion_tokens_details": null
        })));
        assert_eq!(usage.input, 10);
        assert_eq!(usage.cache_read, 0);
        assert_eq!(usage.reasoning, 0);
    }

    #[test]
    fn deepseek_cache_hit_tokens_are_cache_reads() {
        let usage = Usage::from_openai(&openai(json!({
            "prompt_tokens": 1000,
            "completion_tokens": 50,
            "total_tokens": 1050,
            "prompt_cache_hit_tokens": 800,
            "prompt_cache_miss_tokens": 200
        })));
        assert_eq!((usage.input, usage.cache_read), (200, 800));
    }

    #[test]
    fn inconsistent_counts_do_not_underflow() {
        let mut raw = openai::Usage::new(10, 5);
        raw.prompt_tokens_details = Some(openai::PromptTokensDetails {
            cached_tokens: Some(50),
            ..Default::default()
        });
        raw.completion_tokens_details = Some(openai::CompletionTokensDetails {
            reasoning_tokens: Some(9),
            ..Default::default()
        });
        let usage = Usage::from_openai(&raw);
        assert_eq!((usage.input, usage.cache_read), (0, 10));
        assert_eq!(usage.reasoning, 5);
    }

    #[test]
    fn embeddings_usage_is_input() {
        let usage = Usage::from_openai_embedding(&openai::EmbeddingUsage {
            prompt_tokens: 8,
            total_tokens: 8,
            ..Default::default()
        });
        assert_eq!(usage.input, 8);
        assert_eq!(usage.total(), 8);
    }

    #[test]
    fn add_and_zero() {
        let a = Usage {
            input: 1,
            cache_read: 2,
            cache_write: 3,
            output: 4,
            reasoning: 1,
        };
        assert!(Usage::default().is_zero());
        assert!(!a.is_zero());
        let mut sum = a + a;
        assert_eq!(sum.total(), 20);
        sum += Usage {
            output: u64::MAX,
            ..Usage::default()
        };
        assert_eq!(sum.output, u64::MAX);
        assert_eq!(sum.reasoning, 2);
    }
}
