//! The Anthropic error body: `{"type": "error", "error": {"type", "message"}}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An error response body (also the `data` of an `error` stream event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Always `error`.
    #[serde(rename = "type", default = "error_type")]
    pub kind: String,
    pub error: ErrorObject,
    /// Fields this type does not know (e.g. `request_id`), kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn error_type() -> String {
    "error".to_owned()
}

/// The `error` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `not_found_error`, `request_too_large`, `rate_limit_error`, `api_error`,
    /// `overloaded_error`.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ErrorBody {
    /// An error of `kind` saying `message`.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: error_type(),
            error: ErrorObject {
                kind: kind.into(),
                message: message.into(),
                extra: Map::new(),
            },
            extra: Map::new(),
        }
    }
}
