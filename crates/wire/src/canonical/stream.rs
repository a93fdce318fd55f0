//! [`StreamEvent`]: a streamed answer as a sequence of block-structured events.
//!
//! A well-formed stream is: `Start`, then blocks — each `BlockStart`, any `Delta`s,
//! `BlockStop` — then `Finish`, any number of `Usage` (each replaces the last), and `End`.
//! Block indices count from 0 in order of `BlockStart`. Deltas of an earlier block may
//! arrive after a later block started (parallel tool calls whose arguments interleave).

use super::response::StopReason;
use crate::Usage;

/// One event of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The answer begins.
    Start { id: String, model: String },
    /// Block `index` begins.
    BlockStart { index: usize, kind: BlockKind },
    /// More of block `index`.
    Delta { index: usize, delta: Delta },
    /// Block `index` is complete.
    BlockStop { index: usize },
    /// Generation stopped.
    Finish {
        reason: StopReason,
        stop_sequence: Option<String>,
    },
    /// The usage so far (replaces any earlier `Usage`).
    Usage(Usage),
    /// The stream is complete.
    End,
}

/// The kind of a streamed block, with what is known when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockKind {
    Text,
    Thinking,
    /// Redacted reasoning arrives whole.
    RedactedThinking {
        data: String,
    },
    /// A tool call; its arguments follow as [`Delta::ToolArguments`].
    ToolUse {
        id: String,
        name: String,
    },
}

/// A piece of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    Text(String),
    /// A piece of a tool call's JSON arguments.
    ToolArguments(String),
    Thinking(String),
    /// The signature of a thinking block (arrives once, before its `BlockStop`).
    Signature(String),
}
