//! The Gemini error body: `{"error": {"code": 404, "message": "…", "status": "NOT_FOUND"}}`.

use serde::{Deserialize, Serialize};

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

/// The error itself: the HTTP status as a number and the gRPC status name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorObject {
    pub code: u16,
    pub message: String,
    pub status: String,
}

impl ErrorBody {
    pub fn new(code: u16, status: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorObject {
                code,
                message: message.into(),
                status: status.into(),
            },
        }
    }
}
