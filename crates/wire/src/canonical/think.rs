//! Reasoning that a model writes inline, as `<think>…</think>` in its text (DeepSeek R1,
//! Qwen QwQ and other open models behind OpenAI-compatible servers), moved out of the text
//! into thinking blocks: whole answers with [`split_response`], streams with [`ThinkSplitter`],
//! which is safe for tags split across deltas (a piece that may begin a tag is held back until
//! the next delta says whether it does). The whitespace right after a closing tag is dropped.

use std::collections::HashMap;

use super::request::{Block, Text, Thinking};
use super::response::Response;
use super::stream::{BlockKind, Delta, StreamEvent};

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// Which kind of block text is going to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Text,
    Thinking,
}

/// Splits text into text and thinking pieces, across as many pushes as it arrives in.
#[derive(Debug, Default)]
struct Scanner {
    inside: bool,
    /// Text that may be the start of the next tag.
    pending: String,
    /// Just after `</think>`: leading whitespace is dropped.
    after_close: bool,
}

impl Scanner {
    fn push(&mut self, piece: &str, out: &mut Vec<(Part, String)>) {
        self.pending.push_str(piece);
        loop {
            let tag = if self.inside { CLOSE } else { OPEN };
            if self.after_close {
                let trimmed = self.pending.trim_start();
                if trimmed.is_empty() {
                    self.pending.clear();
                    return;
                }
                self.pending = trimmed.to_owned();
                self.after_close = false;
            }
            if let Some(at) = self.pending.find(tag) {
                let before: String = self.pending[..at].to_owned();
                self.emit(before, out);
                self.pending.drain(..at + tag.len());
                self.after_close = self.inside;
                self.inside = !self.inside;
                continue;
            }
            // Keep back the longest end of the text that could begin the tag.
            let keep = (1..tag.len().min(self.pending.len() + 1))
                .rev()
                .find(|&n| {
                    self.pending.is_char_boundary(self.pending.len() - n)
                        && tag.starts_with(&self.pending[self.pending.len() - n..])
                })
                .unwrap_or(0);
            let ready: String = self.pending.drain(..self.pending.len() - keep).collect();
            self.emit(ready, out);
            return;
        }
    }

    /// What is held back, at the end of the text.
    fn finish(&mut self, out: &mut Vec<(Part, String)>) {
        let rest = std::mem::take(&mut self.pending);
        if !self.after_close {
            self.emit(rest, out);
        }
    }

    fn emit(&self, text: String, out: &mut Vec<(Part, String)>) {
        if text.is_empty() {
            return;
        }
        let part = if self.inside {
            Part::Thinking
        } else {
            Part::Text
        };
        match out.last_mut() {
            Some((p, t)) if *p == part => t.push_str(&text),
            _ => out.push((part, text)),
        }
    }
}

/// A whole answer: each text block's `<think>` sections become thinking blocks before it.
pub fn split_response(resp: &mut Response) {
    let mut content = Vec::with_capacity(resp.content.len() + 1);
    for block in std::mem::take(&mut resp.content) {
        match block {
            Block::Text(t) if t.text.contains(OPEN) || t.text.contains(CLOSE) => {
                let mut scanner = Scanner::default();
                let mut parts = Vec::new();
                scanner.push(&t.text, &mut parts);
                scanner.finish(&mut parts);
                content.extend(parts.into_iter().map(|(part, text)| match part {
                    Part::Text => Block::Text(Text {
                        text,
                        cache_control: t.cache_control.clone(),
                    }),
                    Part::Thinking => Block::Thinking(Thinking {
                        text,
                        signature: None,
                    }),
                }));
            }
            other => content.push(other),
        }
    }
    resp.content = content;
}

/// A stream: text blocks are split into thinking and text blocks as their deltas arrive;
/// every block is renumbered in the order the client sees them start.
#[derive(Debug, Default)]
pub struct ThinkSplitter {
    next: usize,
    /// Upstream index → client index, for blocks passed through.
    blocks: HashMap<usize, usize>,
    /// Upstream text blocks being split.
    texts: HashMap<usize, SplitText>,
}

#[derive(Debug, Default)]
struct SplitText {
    scanner: Scanner,
    /// The client block open for this text, and its kind.
    open: Option<(usize, Part)>,
}

impl ThinkSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events for one upstream event, appended to `out`.
    pub fn push(&mut self, event: StreamEvent, out: &mut Vec<StreamEvent>) {
        match event {
            StreamEvent::BlockStart {
                index,
                kind: BlockKind::Text,
            } => {
                self.texts.insert(index, SplitText::default());
            }
            StreamEvent::BlockStart { index, kind } => {
                let n = self.take_index();
                self.blocks.insert(index, n);
                out.push(StreamEvent::BlockStart { index: n, kind });
            }
            StreamEvent::Delta {
                index,
                delta: Delta::Text(piece),
            } if self.texts.contains_key(&index) => {
                let mut parts = Vec::new();
                if let Some(t) = self.texts.get_mut(&index) {
                    t.scanner.push(&piece, &mut parts);
                }
                self.write(index, parts, out);
            }
            StreamEvent::BlockStop { index } if self.texts.contains_key(&index) => {
                let mut parts = Vec::new();
                if let Some(t) = self.texts.get_mut(&index) {
                    t.scanner.finish(&mut parts);
                }
                self.write(index, parts, out);
                if let Some((n, _)) = self.texts.remove(&index).and_then(|t| t.open) {
                    out.push(StreamEvent::BlockStop { index: n });
                }
            }
            StreamEvent::Delta { index, delta } => {
                if let Some(&n) = self.blocks.get(&index) {
                    out.push(StreamEvent::Delta { index: n, delta });
                }
            }
            StreamEvent::BlockStop { index } => {
                if let Some(n) = self.blocks.remove(&index) {
                    out.push(StreamEvent::BlockStop { index: n });
                }
            }
            other => out.push(other),
        }
    }

    fn take_index(&mut self) -> usize {
        let n = self.next;
        self.next += 1;
        n
    }

    /// Writes pieces of upstream text block `index`, opening and closing client blocks as
    /// the kind changes.
    fn write(&mut self, index: usize, parts: Vec<(Part, String)>, out: &mut Vec<StreamEvent>) {
        for (part, text) in parts {
            let open = self.texts.get(&index).and_then(|t| t.open);
            let n = match open {
                Some((n, p)) if p == part => n,
                _ => {
                    if let Some((n, _)) = open {
                        out.push(StreamEvent::BlockStop { index: n });
                    }
                    let n = self.take_index();
                    out.push(StreamEvent::BlockStart {
                        index: n,
                        kind: match part {
                            Part::Text => BlockKind::Text,
                            Part::Thinking => BlockKind::Thinking,
                        },
                    });
                    if let Some(t) = self.texts.get_mut(&index) {
                        t.open = Some((n, part));
                    }
                    n
                }
            };
            out.push(StreamEvent::Delta {
                index: n,
                delta: match part {
                    Part::Text => Delta::Text(text),
                    Part::Thinking => Delta::Thinking(text),
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::StopReason;

    fn split(pieces: &[&str]) -> Vec<StreamEvent> {
        let mut s = ThinkSplitter::new();
        let mut out = Vec::new();
        s.push(
            StreamEvent::BlockStart {
                index: 0,
                kind: BlockKind::Text,
            },
            &mut out,
        );
        for p in pieces {
            s.push(
                StreamEvent::Delta {
                    index: 0,
                    delta: Delta::Text((*p).to_owned()),
                },
                &mut out,
            );
        }
        s.push(StreamEvent::BlockStop { index: 0 }, &mut out);
        s.push(
            StreamEvent::Finish {
                reason: StopReason::Stop,
                stop_sequence: None,
            },
            &mut out,
        );
        out
    }

    /// The blocks of a stream as (kind, text), joined per block.
    fn blocks(events: &[StreamEvent]) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = Vec::new();
        let mut open: Option<usize> = None;
        for e in events {
            match e {
                StreamEvent::BlockStart { index, kind } => {
                    assert_eq!(open, None, "one block at a time");
                    assert_eq!(*index, out.len(), "numbered in order");
                    open = Some(*index);
                    out.push((
                        match kind {
                            BlockKind::Thinking => "thinking",
                            _ => "text",
                        },
                        String::new(),
                    ));
                }
                StreamEvent::Delta { index, delta } => {
                    assert_eq!(open, Some(*index));
                    match delta {
                        Delta::Text(t) | Delta::Thinking(t) => out[*index].1.push_str(t),
                        _ => {}
                    }
                }
                StreamEvent::BlockStop { index } => {
                    assert_eq!(open.take(), Some(*index));
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn tags_split_across_every_delta_are_found() {
        let text = "<think>let me see</think>\n\nThe answer is 4.";
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let pieces: Vec<&str> = chars.iter().map(String::as_str).collect();
        let expected = vec![
            ("thinking", "let me see".to_owned()),
            ("text", "The answer is 4.".to_owned()),
        ];
        assert_eq!(blocks(&split(&pieces)), expected);
        assert_eq!(blocks(&split(&[text])), expected);
        assert_eq!(
            blocks(&split(&[
                "<thi",
                "nk>let me",
                " see</th",
                "ink>\n",
                "\nThe answer is 4."
            ])),
            expected
        );
    }

    #[test]
    fn text_that_only_looks_like_a_tag_is_kept() {
        assert_eq!(
            blocks(&split(&["a <b> and <thin", "king> ok <"])),
            vec![("text", "a <b> and <thinking> ok <".to_owned())]
        );
    }

    #[test]
    fn other_blocks_are_renumbered_after_the_split() {
        let mut s = ThinkSplitter::new();
        let mut out = Vec::new();
        for e in [
            StreamEvent::BlockStart {
                index: 0,
                kind: BlockKind::Text,
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Text("<think>hm</think>ok".into()),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                kind: BlockKind::ToolUse {
                    id: "t".into(),
                    name: "f".into(),
                },
            },
            StreamEvent::Delta {
                index: 1,
                delta: Delta::ToolArguments("{}".into()),
            },
            StreamEvent::BlockStop { index: 1 },
        ] {
            s.push(e, &mut out);
        }
        assert!(out.contains(&StreamEvent::Delta {
            index: 2,
            delta: Delta::ToolArguments("{}".into())
        }));
        assert_eq!(out.last(), Some(&StreamEvent::BlockStop { index: 2 }));
    }

    #[test]
    fn a_whole_answer_is_split_into_blocks() {
        let mut resp = Response {
            content: vec![Block::Text(Text::plain("<think>a\nb</think>\n42"))],
            ..Response::default()
        };
        split_response(&mut resp);
        assert_eq!(
            resp.content,
            vec![
                Block::Thinking(Thinking {
                    text: "a\nb".into(),
                    signature: None
                }),
                Block::Text(Text::plain("42"))
            ]
        );
        let mut plain = Response {
            content: vec![Block::Text(Text::plain("no tags"))],
            ..Response::default()
        };
        split_response(&mut plain);
        assert_eq!(plain.content, vec![Block::Text(Text::plain("no tags"))]);
    }
}
