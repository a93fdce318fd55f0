//! Redaction of logged bodies, on text that may be cut anywhere (so no JSON parse):
//!
//! 1. the string value of every JSON field whose name says it holds a secret (`api_key`,
//!    `apiKey`, `key`, `secret`, `password`, `token`, `authorization`, `access_token`,
//!    `client_secret`, …) becomes `[REDACTED]` — also when the value was cut off;
//! 2. anything shaped like a key — `sk-…` (OpenAI-style and gateway `sk-sb-…` keys) at the
//!    start of a word, or the credential (8+ token characters, or whatever is left of a cut
//!    text) after `Bearer ` — becomes `sk-[REDACTED]` / `Bearer [REDACTED]`, wherever it
//!    appears (inside strings, escaped JSON, SSE lines).

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// The shortest word after `Bearer ` taken for a credential.
const MIN_BEARER: usize = 8;

/// `text` with secrets replaced.
pub fn redact(text: &str) -> String {
    redact_patterns(&redact_fields(text))
}

/// Whether a JSON field of this name holds a secret.
fn is_secret_name(name: &str) -> bool {
    let norm: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    matches!(
        norm.as_str(),
        "key" | "auth" | "authorization" | "bearer" | "credential" | "credentials" | "passwd"
    ) || [
        "apikey",
        "secret",
        "password",
        "token",
        "privatekey",
        "secretkey",
        "accesskey",
    ]
    .iter()
    .any(|end| norm.ends_with(end))
}

/// Where a JSON string starting at `start` (its opening quote) ends: the index after its
/// closing quote, or `None` when the text ends first.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Step 1: string values of secret-named fields.
fn redact_fields(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let Some(key_end) = string_end(b, i) else {
            break;
        };
        let colon = skip_ws(b, key_end);
        if colon >= b.len() || b[colon] != b':' {
            i = key_end;
            continue;
        }
        let value = skip_ws(b, colon + 1);
        if value >= b.len() || b[value] != b'"' || !is_secret_name(&text[i + 1..key_end - 1]) {
            i = colon + 1;
            continue;
        }
        out.push_str(&text[copied..=value]);
        out.push_str(REDACTED);
        match string_end(b, value) {
            Some(end) => {
                out.push('"');
                copied = end;
                i = end;
            }
            None => {
                copied = b.len();
                i = b.len();
            }
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// Step 2: `sk-…` keys and `Bearer …` credentials anywhere.
fn redact_patterns(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !is_word(b[i - 1]);
        if boundary && b[i..].starts_with(b"sk-") {
            let start = i + 3;
            let mut end = start;
            while end < b.len() && is_word(b[end]) {
                end += 1;
            }
            if end > start {
                out.push_str(&text[copied..start]);
                out.push_str(REDACTED);
                copied = end;
                i = end;
                continue;
            }
        }
        if boundary && b[i..].starts_with(b"Bearer") {
            let start = skip_ws(b, i + 6);
            if start > i + 6 {
                let mut end = start;
                while end < b.len() && is_token(b[end]) {
                    end += 1;
                }
                // Short words after "Bearer" are prose, unless the text was cut there.
                let credential = end - start >= MIN_BEARER || (end == b.len() && end > start);
                if credential {
                    out.push_str(&text[copied..start]);
                    out.push_str(REDACTED);
                    copied = end;
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_fields_lose_their_string_values() {
        let body = r#"{"model":"m","api_key":"abc\"def","apiKey" : "x","max_tokens":5,"token":"t","nested":{"client_secret":"cs","password":"pw"},"key":7}"#;
        assert_eq!(
            redact(body),
            r#"{"model":"m","api_key":"[REDACTED]","apiKey" : "[REDACTED]","max_tokens":5,"token":"[REDACTED]","nested":{"client_secret":"[REDACTED]","password":"[REDACTED]"},"key":7}"#
        );
    }

    #[test]
    fn a_value_cut_off_is_redacted_to_the_end() {
        assert_eq!(
            redact(r#"{"a":"b","authorization":"Basic dXNlcjpw"#),
            r#"{"a":"b","authorization":"[REDACTED]"#
        );
    }

    #[test]
    fn keys_and_bearer_credentials_anywhere() {
        let text = "use sk-secret123 or sk-sb-AbC_9 with Authorization: Bearer eyJhbGci.x-y; ask-me, task-list, risk-";
        assert_eq!(
            redact(text),
            "use sk-[REDACTED] or sk-[REDACTED] with Authorization: Bearer [REDACTED]; ask-me, task-list, risk-"
        );
        assert_eq!(
            redact(r#"data: {"content":"my key is sk-proj-XYZ"}"#),
            r#"data: {"content":"my key is sk-[REDACTED]"}"#
        );
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let body = r#"{"messages":[{"role":"user","content":"a bearer bond; Bearer of news; sk- alone; keys"}],"stream":true}"#;
        assert_eq!(redact(body), body);
    }

    #[test]
    fn non_ascii_text_survives() {
        let body = r#"{"content":"héllo ünïcode","secret":"ß"}"#;
        assert_eq!(
            redact(body),
            r#"{"content":"héllo ünïcode","secret":"[REDACTED]"}"#
        );
    }
}
