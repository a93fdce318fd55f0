//! `Secret`: a string that never prints itself (Debug, Display and Serialize all show `*****`).

use std::fmt;

/// A credential or key. Read it only with [`Secret::expose`] where it is put on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret in clear: call only where it is written into an outgoing header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("*****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_itself() {
        let s = Secret::new("sk-live-123");
        assert_eq!(format!("{s:?} {s}"), "***** *****");
        assert_eq!(serde_json::to_string(&s).ok().as_deref(), Some("\"*****\""));
        assert_eq!(s.expose(), "sk-live-123");
    }
}
