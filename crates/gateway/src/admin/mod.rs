//! The admin REST API, `/admin/api/v1/…`: JSON in and out, errors as
//! `{"error": {"message", "type", "code"}}`, and an OpenAPI document generated from the
//! handler and DTO types at `/admin/api/openapi.json`.
//!
//! A request passes, in order:
//! 1. the server's layers (request id, trace, body limit — see [`crate::server`]);
//! 2. [`auth::require_admin`], on every route but `POST /login` and the OpenAPI document:
//!    a valid admin JWT in `Authorization: Bearer`, else 401;
//! 3. a thin handler: decode ([`extract`]), call one store method, encode a DTO. Changes
//!    to keys or users then refresh the gateway's key snapshot.
//!
//! Resources, one module each: [`users`], [`balances`] (deposit, withdraw, credit limit,
//! ledger), [`keys`], [`providers`] (and their credentials), [`catalog`] (virtual models,
//! combos, prices), [`usage`] (totals, breakdowns, series, records, request logs).
//!
//! At start-up the binary calls [`ensure_admin_password`]; the CLI mints tokens with
//! [`mint_admin_token`].

mod auth;
pub mod balances;
pub mod catalog;
mod common;
mod error;
mod extract;
pub mod keys;
pub mod providers;
pub mod usage;
pub mod users;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderValue, header};
use utoipa::OpenApi as _;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{
    ADMIN_PASSWORD_ENV, LOGIN_TTL, MIN_PASSWORD_LEN, ensure_admin_password,
    ensure_admin_password_from, mint_admin_token, set_admin_password, verify_admin_token,
};
pub use error::{AdminError, ErrorBody};

use crate::state::AppState;

/// Where the versioned API lives.
pub const PREFIX: &str = "/admin/api/v1";
/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/admin/api/openapi.json";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Switchboard admin API",
        description = "Users, keys, balances, providers, models, prices, usage and logs. \
            Log in at `POST /admin/api/v1/login` and send the token as `Authorization: Bearer`.",
    ),
    security(("bearer" = [])),
    modifiers(&BearerScheme),
    components(schemas(ErrorBody)),
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The routes that need an admin token, without the guard (added by [`routes`]).
fn protected() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::router())
        .merge(balances::router())
        .merge(keys::router())
        .merge(providers::router())
        .merge(catalog::router())
        .merge(usage::router())
}

/// The whole API under [`PREFIX`], `guard` applied to the protected part.
fn api(
    guard: impl FnOnce(OpenApiRouter<AppState>) -> OpenApiRouter<AppState>,
) -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(auth::login))
        .merge(guard(protected()));
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest(PREFIX, v1)
}

/// The OpenAPI document of the admin API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api(|protected| protected).into_openapi()
}

/// The admin routes, to merge into the application router. `state` is the one the app
/// runs with: the guard needs it to check tokens.
pub fn routes(state: AppState) -> Router<AppState> {
    let (router, doc) = api(|protected| {
        protected.route_layer(axum::middleware::from_fn_with_state(
            state,
            auth::require_admin,
        ))
    })
    .split_for_parts();
    let document = match serde_json::to_vec(&doc) {
        Ok(json) => Ok(Bytes::from(json)),
        Err(err) => Err(AdminError::internal("rendering the OpenAPI document", err)),
    };
    router.route(
        OPENAPI_PATH,
        get(move || {
            let document = document.clone();
            async move { serve_document(document) }
        }),
    )
}

fn serve_document(document: Result<Bytes, AdminError>) -> Response {
    match document {
        Ok(json) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response(),
        Err(err) => err.into_response(),
    }
}
