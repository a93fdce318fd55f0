//! Admin API errors: one type that knows its HTTP status, a coarse `type` and a stable
//! `code`, rendered as `{"error": {"message", "type", "code"}}`.
//!
//! Store errors map by kind (not found → 404, conflict → 409, invalid → 400). Database,
//! key and I/O failures are logged in full and answered with a generic message: their
//! text can name tables, paths or SQL, which has no business in a response.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use store::StoreError;
use utoipa::ToSchema;

/// The body of every admin error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, for a person.
    pub message: String,
    /// The class: `invalid_request_error`, `authentication_error`, `not_found_error`,
    /// `conflict_error`, `unavailable_error` or `server_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A stable, machine-readable reason, e.g. `invalid_token` or `insufficient_funds`.
    pub code: &'static str,
}

/// A failed admin request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AdminError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// The admin API needs the store (or the secret box) and the server runs without one.
    pub fn no_store() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the admin API needs a database: this server runs without one",
        )
    }

    /// A failure the caller cannot fix; `detail` goes to the log only.
    pub fn internal(what: &'static str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "admin API: {what}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("the admin API failed: {what}"),
        )
    }

    /// The `type` field: a coarse class derived from the status.
    pub fn kind(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "invalid_request_error",
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "authentication_error",
            StatusCode::NOT_FOUND => "not_found_error",
            StatusCode::CONFLICT => "conflict_error",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable_error",
            _ => "server_error",
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                message: self.message.clone(),
                kind: self.kind(),
                code: self.code,
            },
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match &err {
            StoreError::NotFound { .. } => Self::not_found(err.to_string()),
            StoreError::Conflict { .. } => Self::conflict("conflict", err.to_string()),
            StoreError::InsufficientFunds { .. } => {
                Self::conflict("insufficient_funds", err.to_string())
            }
            StoreError::Invalid { .. } => Self::bad_request("invalid_value", err.to_string()),
            _ => Self::internal(err.label(), &err),
        }
    }
}

impl From<JsonRejection> for AdminError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            "unsupported_media_type"
        } else if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "invalid_json"
        };
        Self::new(status, code, rejection.body_text())
    }
}

impl From<QueryRejection> for AdminError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request("invalid_query", rejection.body_text())
    }
}

impl From<PathRejection> for AdminError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request("invalid_path", rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_meaning_and_hide_internals() {
        let conflict: AdminError = StoreError::Conflict {
            entity: "user",
            detail: "email already in use",
        }
        .into();
        assert_eq!(conflict.status, StatusCode::CONFLICT);
        assert_eq!(conflict.kind(), "conflict_error");
        let internal: AdminError = StoreError::SecretKey("/secret/path".into()).into();
        assert_eq!(internal.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!internal.message.contains("/secret/path"));
    }
}
