//! Users: list (filtered, paginated), create, read, update, delete. Balances live in
//! [`super::balances`]. Changes that can affect keys (disabling, limits, deletion) refresh
//! the gateway's key snapshot.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use store::{NewUser, User, UserFilter, UserUpdate};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::common::{Deleted, LimitsDto, RoleDto, double_option, page};
use super::error::{AdminError, ErrorBody};
use super::extract::{self, Body, Path, Query, refresh_keys};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, remove))
}

/// A user. Money is in micro-dollars (1 USD = 1,000,000).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub role: RoleDto,
    /// Cash on the account; negative when the user is in debt against their credit.
    pub balance_cash_micros: i64,
    /// How far below zero the cash may go.
    pub credit_limit_micros: i64,
    /// Cash plus credit: what the user can still spend.
    pub available_micros: i64,
    pub limits: LimitsDto,
    pub disabled: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self {
            available_micros: u.available(),
            id: u.id,
            name: u.name,
            email: u.email,
            role: u.role.into(),
            balance_cash_micros: u.balance_cash,
            credit_limit_micros: u.credit_limit,
            limits: LimitsDto::from(&u.limits),
            disabled: u.disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserDto>,
    /// Users matching the filter, across all pages.
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    /// Case-insensitive substring of the name.
    name: Option<String>,
    /// Case-insensitive substring of the email.
    email: Option<String>,
    role: Option<RoleDto>,
    /// Include disabled users (default false).
    #[serde(default)]
    include_disabled: bool,
    /// Page size, 1..=1000 (default 50).
    limit: Option<u32>,
    offset: Option<u64>,
}

/// A new user; balances start at zero.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Default `member`.
    #[serde(default)]
    pub role: RoleDto,
    #[serde(default)]
    pub limits: LimitsDto,
}

/// A partial update: absent fields stay as they are; `email: null` clears the email;
/// `limits` replaces all limits at once.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable)]
    pub email: Option<Option<String>>,
    #[serde(default)]
    pub role: Option<RoleDto>,
    #[serde(default)]
    pub limits: Option<LimitsDto>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// Lists users, oldest first.
#[utoipa::path(get, operation_id = "list_users", path = "/users", tag = "users", params(UserListQuery),
    responses((status = 200, body = UserList), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<UserListQuery>,
) -> Result<Json<UserList>, AdminError> {
    let store = extract::store(&state)?;
    let filter = UserFilter {
        name_contains: q.name,
        email_contains: q.email,
        role: q.role.map(Into::into),
        include_disabled: q.include_disabled,
    };
    let page = page(q.limit, q.offset);
    let users = store.list_users(&filter, page).await?;
    let total = store.count_users(&filter).await?;
    Ok(Json(UserList {
        items: users.into_iter().map(UserDto::from).collect(),
        total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Creates a user.
#[utoipa::path(post, operation_id = "create_user", path = "/users", tag = "users", request_body = NewUserRequest,
    responses((status = 201, body = UserDto), (status = 400, body = ErrorBody),
        (status = 409, description = "email already in use", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Body(req): Body<NewUserRequest>,
) -> Result<(StatusCode, Json<UserDto>), AdminError> {
    let user = extract::store(&state)?
        .create_user(&NewUser {
            name: req.name,
            email: req.email,
            role: req.role.into(),
            limits: (&req.limits).into(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// One user.
#[utoipa::path(get, operation_id = "get_user", path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    responses((status = 200, body = UserDto), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<UserDto>, AdminError> {
    let user = extract::store(&state)?
        .get_user(id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("user {id} not found")))?;
    Ok(Json(user.into()))
}

/// Updates a user.
#[utoipa::path(patch, operation_id = "update_user", path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    request_body = UserPatch,
    responses((status = 200, body = UserDto), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Body(patch): Body<UserPatch>,
) -> Result<Json<UserDto>, AdminError> {
    let update = UserUpdate {
        name: patch.name,
        email: patch.email,
        role: patch.role.map(Into::into),
        limits: patch.limits.as_ref().map(Into::into),
        disabled: patch.disabled,
    };
    let user = extract::store(&state)?.update_user(id, &update).await?;
    refresh_keys(&state).await?;
    Ok(Json(user.into()))
}

/// Deletes a user and their keys (usage records and the ledger stay).
#[utoipa::path(delete, operation_id = "delete_user", path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Deleted>, AdminError> {
    if !extract::store(&state)?.delete_user(id).await? {
        return Err(AdminError::not_found(format!("user {id} not found")));
    }
    refresh_keys(&state).await?;
    Ok(Json(Deleted::YES))
}
