//! Request decoding for the admin handlers: JSON bodies, query strings and path segments
//! whose rejections render as admin errors (not axum's plain text), and access to the
//! services the admin API needs.

use axum::extract::{FromRequest, FromRequestParts};
use store::{SecretBox, Store};

use super::error::AdminError;
use crate::state::AppState;

/// A JSON request body; a malformed one is a 400 (415 without a JSON content type).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AdminError))]
pub struct Body<T>(pub T);

/// The query string; unknown or malformed parameters are a 400.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AdminError))]
pub struct Query<T>(pub T);

/// Path segments; a malformed one (an id that is not a UUID) is a 400.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AdminError))]
pub struct Path<T>(pub T);

/// The store, or 503 when the server runs without one.
pub fn store(state: &AppState) -> Result<&Store, AdminError> {
    state
        .services()
        .store
        .as_ref()
        .ok_or_else(AdminError::no_store)
}

/// The secret box (present with the store), or 503.
pub fn secrets(state: &AppState) -> Result<&SecretBox, AdminError> {
    state
        .services()
        .secrets
        .as_ref()
        .ok_or_else(AdminError::no_store)
}

/// Rebuilds the gateway's key snapshot after a change to keys or users, so the request
/// path sees it at once. The change itself is already saved when this fails; the error
/// says so, since a revoked key would otherwise keep working until the next refresh.
pub async fn refresh_keys(state: &AppState) -> Result<(), AdminError> {
    let Some(keys) = &state.services().keys else {
        return Ok(());
    };
    keys.refresh().await.map_err(|err| {
        AdminError::internal(
            "the change was saved, but the gateway's key snapshot could not be refreshed",
            err,
        )
    })
}

/// The one actor written to the balance ledger for admin operations.
pub const ACTOR: &str = "admin";
