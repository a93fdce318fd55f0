//! [`TopLevelRewriter`]: rewrites a JSON object as it streams past, in pieces of any size —
//! replaces the value of the top-level `"model"` key and copies the top-level `"usage"` value
//! aside — without holding the whole document. It checks the structure as it goes (so garbage
//! from an upstream is caught) but is not a full validator: nested values pass unchecked.

use bytes::BytesMut;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (byte {offset})")]
pub struct RewriteError {
    pub message: &'static str,
    pub offset: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the opening `{`.
    Start,
    /// After `{` or `,`: a key or (after `{`) the closing brace.
    KeyOrEnd,
    Key,
    Colon,
    ValueStart,
    Value,
    /// After the closing `}`: only whitespace may follow.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Other,
    Model,
    Usage,
}

#[derive(Debug)]
pub struct TopLevelRewriter {
    /// The new `"model"` value, already JSON-encoded (with quotes).
    replacement: Vec<u8>,
    phase: Phase,
    slot: Slot,
    key: Vec<u8>,
    in_str: bool,
    esc: bool,
    /// Nesting depth inside the current top-level value.
    depth: u32,
    /// Skipping the original `"model"` string (its replacement was already written).
    skipping: bool,
    usage: Vec<u8>,
    model_seen: bool,
    offset: usize,
}

impl TopLevelRewriter {
    pub fn new(model: &str) -> Self {
        let replacement = serde_json::to_vec(model).unwrap_or_else(|_| b"\"\"".to_vec());
        Self {
            replacement,
            phase: Phase::Start,
            slot: Slot::Other,
            key: Vec::new(),
            in_str: false,
            esc: false,
            depth: 0,
            skipping: false,
            usage: Vec::new(),
            model_seen: false,
            offset: 0,
        }
    }

    /// Starts over for a new document, keeping the replacement.
    pub fn reset(&mut self) {
        self.phase = Phase::Start;
        self.slot = Slot::Other;
        self.key.clear();
        self.in_str = false;
        self.esc = false;
        self.depth = 0;
        self.skipping = false;
        self.usage.clear();
        self.model_seen = false;
        self.offset = 0;
    }

    /// Whether the top-level `"model"` has been rewritten (or the object ended without one):
    /// from here on the output no longer depends on what follows.
    pub fn past_model(&self) -> bool {
        self.model_seen || self.phase == Phase::End
    }

    /// The raw bytes of the top-level `"usage"` value, once it has been seen.
    pub fn usage_json(&self) -> Option<&[u8]> {
        let trimmed = self.usage.trim_ascii();
        (!trimmed.is_empty()).then_some(trimmed)
    }

    /// Feeds one piece; the rewritten bytes are appended to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), RewriteError> {
        let mut copy_from = 0;
        for (i, &b) in chunk.iter().enumerate() {
            match self.phase {
                Phase::Start => match b {
                    b'{' => self.phase = Phase::KeyOrEnd,
                    b if b.is_ascii_whitespace() => {}
                    _ => return Err(self.error("expected a JSON object", i)),
                },
                Phase::KeyOrEnd => match b {
                    b'"' => {
                        self.key.clear();
                        self.phase = Phase::Key;
                    }
                    b'}' => self.phase = Phase::End,
                    b if b.is_ascii_whitespace() => {}
                    _ => return Err(self.error("expected a key", i)),
                },
                Phase::Key => {
                    if self.esc {
                        self.esc = false;
                        self.key.push(b);
                    } else if b == b'\\' {
                        self.esc = true;
                        self.key.push(b);
                    } else if b == b'"' {
                        self.phase = Phase::Colon;
                    } else {
                        self.key.push(b);
                    }
                }
                Phase::Colon => match b {
                    b':' => {
                        self.slot = match self.key.as_slice() {
                            b"model" => Slot::Model,
                            b"usage" => Slot::Usage,
                            _ => Slot::Other,
                        };
                        self.phase = Phase::ValueStart;
                    }
                    b if b.is_ascii_whitespace() => {}
                    _ => return Err(self.error("expected ':' after a key", i)),
                },
                Phase::ValueStart => {
                    if b.is_ascii_whitespace() {
                        continue;
                    }
                    if matches!(b, b',' | b'}' | b']' | b':') {
                        return Err(self.error("expected a value", i));
                    }
                    self.phase = Phase::Value;
                    self.depth = 0;
                    if self.slot == Slot::Model && b == b'"' && !self.model_seen {
                        out.extend_from_slice(&chunk[copy_from..i]);
                        out.extend_from_slice(&self.replacement);
                        self.skipping = true;
                        self.model_seen = true;
                        self.in_str = true;
                        continue;
                    }
                    self.value_byte(b, i, &mut copy_from);
                }
                Phase::Value => self.value_byte(b, i, &mut copy_from),
                Phase::End => {
                    if !b.is_ascii_whitespace() {
                        return Err(self.error("unexpected data after the JSON object", i));
                    }
                }
            }
        }
        if !self.skipping {
            out.extend_from_slice(&chunk[copy_from..]);
        }
        self.offset += chunk.len();
        Ok(())
    }

    /// Ends the input: an object that has not been closed is an error.
    pub fn finish(&self) -> Result<(), RewriteError> {
        match self.phase {
            Phase::End => Ok(()),
            Phase::Start => Err(self.error("empty body", 0)),
            _ => Err(self.error("truncated JSON object", 0)),
        }
    }

    fn value_byte(&mut self, b: u8, i: usize, copy_from: &mut usize) {
        if self.in_str {
            if self.esc {
                self.esc = false;
            } else if b == b'\\' {
                self.esc = true;
            } else if b == b'"' {
                self.in_str = false;
                if self.skipping {
                    self.skipping = false;
                    *copy_from = i + 1;
                    return;
                }
            }
            self.capture(b);
            return;
        }
        match b {
            b'"' => self.in_str = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' if self.depth > 0 => self.depth -= 1,
            b'}' => {
                // The top-level object closes: this byte ends the value and the object.
                self.phase = Phase::End;
                return;
            }
            b',' if self.depth == 0 => {
                self.phase = Phase::KeyOrEnd;
                self.slot = Slot::Other;
                return;
            }
            _ => {}
        }
        self.capture(b);
    }

    fn capture(&mut self, b: u8) {
        if self.slot == Slot::Usage {
            self.usage.push(b);
        }
    }

    fn error(&self, message: &'static str, i: usize) -> RewriteError {
        RewriteError {
            message,
            offset: self.offset + i,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite_in_pieces(
        input: &str,
        model: &str,
        piece: usize,
    ) -> Result<(String, Option<String>), RewriteError> {
        let mut rw = TopLevelRewriter::new(model);
        let mut out = BytesMut::new();
        for c in input.as_bytes().chunks(piece.max(1)) {
            rw.push(c, &mut out)?;
        }
        rw.finish()?;
        let usage = rw
            .usage_json()
            .map(|u| String::from_utf8_lossy(u).into_owned());
        Ok((String::from_utf8_lossy(&out).into_owned(), usage))
    }

    #[test]
    fn replaces_model_and_captures_usage_at_any_split() -> Result<(), RewriteError> {
        let input = r#"{"id":"x","model" : "gpt-4o-2024-08-06","choices":[{"message":{"content":"a \"model\": \"no\" }"}}],"usage": {"prompt_tokens":3,"completion_tokens":2} , "model_extra":"keep"}"#;
        for piece in 1..input.len() {
            let (out, usage) = rewrite_in_pieces(input, "fast", piece)?;
            let v: serde_json::Value = serde_json::from_str(&out).map_err(|_| RewriteError {
                message: "bad output",
                offset: piece,
            })?;
            assert_eq!(v["model"], "fast", "piece {piece}");
            assert_eq!(v["model_extra"], "keep");
            assert_eq!(
                v["choices"][0]["message"]["content"],
                "a \"model\": \"no\" }"
            );
            assert_eq!(
                usage.as_deref(),
                Some(r#"{"prompt_tokens":3,"completion_tokens":2}"#),
                "piece {piece}"
            );
        }
        Ok(())
    }

    #[test]
    fn escaped_model_names_and_replacements() -> Result<(), RewriteError> {
        let (out, _) = rewrite_in_pieces(r#"{"model":"a\"b\\","x":1}"#, "my \"q\" model", 3)?;
        assert_eq!(out, r#"{"model":"my \"q\" model","x":1}"#);
        Ok(())
    }

    #[test]
    fn nested_model_keys_are_left_alone() -> Result<(), RewriteError> {
        let (out, usage) = rewrite_in_pieces(
            r#"{"data":[{"model":"inner","usage":1}],"n":null}"#,
            "outer",
            4,
        )?;
        assert_eq!(out, r#"{"data":[{"model":"inner","usage":1}],"n":null}"#);
        assert_eq!(usage, None);
        Ok(())
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        assert!(rewrite_in_pieces("not json", "m", 3).is_err());
        assert!(rewrite_in_pieces(r#"{"model":"x","choices":["#, "m", 3).is_err());
        assert!(rewrite_in_pieces(r#"{"a" 1}"#, "m", 3).is_err());
        assert!(rewrite_in_pieces(r#"{"a":1} trailing"#, "m", 3).is_err());
        assert!(rewrite_in_pieces("", "m", 3).is_err());
        assert!(rewrite_in_pieces(r#"{"a":,}"#, "m", 3).is_err());
    }

    #[test]
    fn past_model_is_reported_early() -> Result<(), RewriteError> {
        let mut rw = TopLevelRewriter::new("m");
        let mut out = BytesMut::new();
        rw.push(br#"{"id":"1","model":"up"#, &mut out)?;
        assert!(rw.past_model());
        assert_eq!(&out[..], br#"{"id":"1","model":"m""#);
        rw.push(br#"stream","choices":[]}"#, &mut out)?;
        assert_eq!(&out[..], br#"{"id":"1","model":"m","choices":[]}"#);
        Ok(())
    }
}

#[cfg(test)]
mod properties {
    use bytes::BytesMut;
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::TopLevelRewriter;

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[ -~\\\\\"\u{e9}\u{1F600}\n]{0,12}".prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\"\\\\]{0,6}|model|usage", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever the object and however it is split, the output is the input with only the
        /// top-level `model` replaced, and `usage` is captured exactly.
        #[test]
        fn rewriting_matches_serde_json(
            fields in prop::collection::vec(("[a-z\"\\\\]{0,6}|model|usage", value()), 0..6),
            model in "[ -~\u{e9}]{0,10}",
            pretty in any::<bool>(),
            split in 1usize..40,
        ) {
            let object: Map<String, Value> = fields.into_iter().collect();
            let original = Value::Object(object.clone());
            let text = if pretty { serde_json::to_string_pretty(&original) } else { serde_json::to_string(&original) }
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut rewriter = TopLevelRewriter::new(&model);
            let mut out = BytesMut::new();
            for piece in text.as_bytes().chunks(split) {
                rewriter.push(piece, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            rewriter.finish().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got: Value = serde_json::from_slice(&out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut expected = original.clone();
            if let (Some(Value::String(_)), Value::Object(m)) = (object.get("model"), &mut expected) {
                m.insert("model".into(), Value::String(model.clone()));
            }
            prop_assert_eq!(got, expected);
            let usage: Option<Value> = rewriter.usage_json().map(serde_json::from_slice).transpose()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(usage, object.get("usage").cloned());
        }
    }
}
