//! [`RawObject`]: a top-level JSON object kept as ordered `(key, raw value)` pairs borrowed
//! from the input, so the same-dialect fast path can read or rewrite a field or two (the
//! model name, `stream_options`) and re-emit everything else byte for byte, without building a
//! `serde_json::Value` tree.

mod error;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use error::JsonError;

/// A top-level JSON object as ordered `(key, raw value)` pairs.
///
/// Keys borrow from the input unless they contain escapes; values borrow until replaced.
/// Duplicate keys keep the last value, at the position of the first (like
/// `serde_json::Value` with `preserve_order`).
#[derive(Debug, Clone, Default)]
pub struct RawObject<'a> {
    entries: Vec<(Cow<'a, str>, Cow<'a, RawValue>)>,
}

impl<'a> RawObject<'a> {
    /// Parses `input`, which must be exactly one JSON object (whitespace around it is fine).
    pub fn parse(input: &'a [u8]) -> Result<Self, JsonError> {
        let start = input
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(input.len());
        if input.get(start) != Some(&b'{') {
            return Err(JsonError::at_offset(input, start, "expected a JSON object"));
        }
        let mut de = serde_json::Deserializer::from_slice(input);
        let entries = de.deserialize_map(EntriesVisitor)?;
        de.end()?;
        let mut object = Self { entries };
        object.dedupe();
        Ok(object)
    }

    /// The raw value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.position(key).map(|i| &*self.entries[i].1)
    }

    /// The value of `key` when it is a JSON string, unescaped (borrowed when it has no escapes).
    pub fn get_str(&self, key: &str) -> Option<Cow<'_, str>> {
        let raw = self.get(key)?;
        serde_json::from_str::<CowStr<'_>>(raw.get())
            .ok()
            .map(|s| s.0)
    }

    /// The value of `key` when it is a JSON boolean.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        serde_json::from_str(self.get(key)?.get()).ok()
    }

    /// The value of `key` when it is a non-negative JSON integer that fits in `u64`.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        serde_json::from_str(self.get(key)?.get()).ok()
    }

    /// Whether `key` is present (with any value, including `null`).
    pub fn contains(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value` serialized as JSON: replaced in place when present, else appended.
    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), JsonError> {
        let raw = serde_json::value::to_raw_value(value)?;
        self.set_raw(key, raw);
        Ok(())
    }

    /// Sets `key` to an already-serialized value: replaced in place when present, else appended.
    pub fn set_raw(&mut self, key: &str, value: Box<RawValue>) {
        match self.position(key) {
            Some(i) => self.entries[i].1 = Cow::Owned(value),
            None => self
                .entries
                .push((Cow::Owned(key.to_owned()), Cow::Owned(value))),
        }
    }

    /// Removes `key`, keeping the order of the others. Returns whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.position(key) {
            Some(i) => {
                self.entries.remove(i);
                true
            }
            None => false,
        }
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| &**k)
    }

    /// The `(key, raw value)` pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.entries.iter().map(|(k, v)| (&**k, &**v))
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the object has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Copies every borrowed key and value, detaching the object from its input buffer.
    pub fn into_owned(self) -> RawObject<'static> {
        RawObject {
            entries: self
                .entries
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        }
    }

    /// Compact JSON: keys re-escaped, values emitted byte for byte as they were received.
    pub fn to_vec(&self) -> Vec<u8> {
        let size = self
            .entries
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum::<usize>()
            + 2;
        let mut out = Vec::with_capacity(size);
        out.push(b'{');
        for (i, (key, value)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_string(&mut out, key);
            out.push(b':');
            out.extend_from_slice(value.get().as_bytes());
        }
        out.push(b'}');
        out
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    /// Keeps the last value of each duplicated key, at the first key's position.
    fn dedupe(&mut self) {
        const LINEAR_SCAN_MAX: usize = 32;
        let n = self.entries.len();
        let mut first_index: Vec<usize> = Vec::new();
        if n <= LINEAR_SCAN_MAX {
            for i in 1..n {
                if let Some(j) = self.entries[..i]
                    .iter()
                    .position(|(k, _)| *k == self.entries[i].0)
                {
                    first_index.resize(n, usize::MAX);
                    first_index[i] = j;
                }
            }
        } else {
            let mut seen = std::collections::HashMap::with_capacity(n);
            for (i, (k, _)) in self.entries.iter().enumerate() {
                if let Some(&j) = seen.get(&**k) {
                    first_index.resize(n, usize::MAX);
                    first_index[i] = j;
                } else {
                    seen.insert(&**k, i);
                }
            }
        }
        if first_index.is_empty() {
            return;
        }
        // Move each duplicate's value onto its first occurrence, then drop the duplicates.
        for (i, &j) in first_index.iter().enumerate() {
            if j != usize::MAX {
                let value = self.entries[i].1.clone();
                self.entries[j].1 = value;
            }
        }
        let mut index = 0;
        self.entries.retain(|_| {
            let keep = first_index[index] == usize::MAX;
            index += 1;
            keep
        });
    }
}

impl Serialize for RawObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, value) in &self.entries {
            map.serialize_entry(&**key, &**value)?;
        }
        map.end()
    }
}

/// Appends `s` as a JSON string literal (the same escapes `serde_json` writes).
fn write_json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Collects the entries of one object, borrowing keys and values from the input.
struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Vec<(Cow<'de, str>, Cow<'de, RawValue>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(CowStr(key)) = map.next_key()? {
            let value: &'de RawValue = map.next_value()?;
            entries.push((key, Cow::Borrowed(value)));
        }
        Ok(entries)
    }
}

/// A string that borrows from the input when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(CowStrVisitor)
    }
}

struct CowStrVisitor;

impl<'de> Visitor<'de> for CowStrVisitor {
    type Value = CowStr<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(CowStr(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(CowStr(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(CowStr(Cow::Owned(v)))
    }
}
