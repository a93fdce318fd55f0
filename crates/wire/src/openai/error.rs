//! The OpenAI error body: `{"error": {"message", "type", "param", "code"}}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An error response body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `error` object. `param` and `code` are always serialized (`null` when unset), as
/// OpenAI does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// What went wrong, for a human.
    #[serde(default)]
    pub message: String,
    /// The error class, e.g. `invalid_request_error`, `rate_limit_exceeded`.
    #[serde(default)]
    pub r#type: String,
    /// The request parameter at fault, if any.
    #[serde(default)]
    pub param: Option<String>,
    /// A machine-readable code: a string (`model_not_found`) or, from some providers, a number.
    #[serde(default)]
    pub code: Option<Value>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ErrorBody {
    /// An error with `message` and `type`, no `param` and no `code`.
    pub fn new(message: impl Into<String>, r#type: impl Into<String>) -> Self {
        Self {
            error: ErrorObject {
                message: message.into(),
                r#type: r#type.into(),
                param: None,
                code: None,
                extra: Map::new(),
            },
            extra: Map::new(),
        }
    }

    /// Sets `param`.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.error.param = Some(param.into());
        self
    }

    /// Sets `code`.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.error.code = Some(Value::String(code.into()));
        self
    }
}
