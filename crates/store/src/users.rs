//! Users: who owns keys and money — create, read, update, delete, search and pagination.
//!
//! Balances are not changed here: only the operations in [`crate::balances`] move money,
//! each with a ledger row.

use std::str::FromStr;

use serde::Serialize;
use uuid::Uuid;

use crate::Store;
use crate::error::{Result, StoreError, on_unique};
use crate::types::{
    Limits, LimitsRow, Micros, Millis, Page, Role, bind_limits, contains_pattern, now_millis,
};

macro_rules! user_columns {
    () => {
        "id, name, email, role, balance_cash, credit_limit, limit_rpm, limit_tpm, \
         limit_concurrent, budget_micros, budget_period, disabled, created_at, updated_at"
    };
}

/// The filter shared by `list_users` and `count_users` ($1 name, $2 email, $3 role,
/// $4 include disabled).
macro_rules! user_filter {
    () => {
        r"WHERE ($1 IS NULL OR lower(name) LIKE $1 ESCAPE '\')
            AND ($2 IS NULL OR lower(email) LIKE $2 ESCAPE '\')
            AND ($3 IS NULL OR role = $3)
            AND ($4 OR NOT disabled)"
    };
}

/// A user as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub role: Role,
    /// Cash on the account; negative when the user is in debt against their credit.
    pub balance_cash: Micros,
    /// How far below zero `balance_cash` may go.
    pub credit_limit: Micros,
    pub limits: Limits,
    pub disabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl User {
    /// What the user can still spend: cash plus credit.
    pub fn available(&self) -> Micros {
        self.balance_cash.saturating_add(self.credit_limit)
    }
}

/// What it takes to create a user. Balances start at zero.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub name: String,
    pub email: Option<String>,
    pub role: Role,
    pub limits: Limits,
}

impl NewUser {
    /// A member with no email and no limits.
    pub fn member(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            email: None,
            role: Role::Member,
            limits: Limits::default(),
        }
    }
}

/// A partial update: `None` leaves a field as it is. `email: Some(None)` clears the email;
/// `limits: Some(..)` replaces all five limits at once.
#[derive(Clone, Debug, Default)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub email: Option<Option<String>>,
    pub role: Option<Role>,
    pub limits: Option<Limits>,
    pub disabled: Option<bool>,
}

/// Filters for listing users; all conditions must hold. Text matches are
/// case-insensitive substrings.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub name_contains: Option<String>,
    pub email_contains: Option<String>,
    pub role: Option<Role>,
    pub include_disabled: bool,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    name: String,
    email: Option<String>,
    role: String,
    balance_cash: i64,
    credit_limit: i64,
    #[sqlx(flatten)]
    limits: LimitsRow,
    disabled: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            name: r.name,
            email: r.email,
            role: Role::from_str(&r.role)?,
            balance_cash: r.balance_cash,
            credit_limit: r.credit_limit,
            limits: r.limits.try_into()?,
            disabled: r.disabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(StoreError::invalid("name", "must not be empty"));
    }
    Ok(())
}

fn validate_email(email: Option<&str>) -> Result<()> {
    match email {
        Some(e) if !e.contains('@') => Err(StoreError::invalid("email", "must contain @")),
        _ => Ok(()),
    }
}

impl Store {
    /// Creates a user with zero cash and zero credit. Fails with `Conflict` when another
    /// user has the same email (compared case-insensitively).
    pub async fn create_user(&self, new: &NewUser) -> Result<User> {
        validate_name(&new.name)?;
        validate_email(new.email.as_deref())?;
        new.limits.validate()?;
        let limits = LimitsRow::from(&new.limits);
        let now = now_millis();
        let row: UserRow = on_pool!(self, pool => bind_limits!(sqlx::query_as(concat!(
            "INSERT INTO users (id, name, email, role, limit_rpm, limit_tpm, limit_concurrent, \
             budget_micros, budget_period, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING ",
            user_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(new.name.trim())
        .bind(new.email.as_deref())
        .bind(new.role.as_str()), limits)
        .bind(now)
        .fetch_one(pool)
        .await)
        .map_err(on_unique("user", "email already in use"))?;
        row.try_into()
    }

    /// The user with this id, if any.
    pub async fn get_user(&self, id: Uuid) -> Result<Option<User>> {
        let row: Option<UserRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", user_columns!(), " FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        row.map(User::try_from).transpose()
    }

    /// The user with this email (case-insensitive), if any.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row: Option<UserRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", user_columns!(), " FROM users WHERE lower(email) = lower($1)"
        ))
        .bind(email)
        .fetch_optional(pool)
        .await)?;
        row.map(User::try_from).transpose()
    }

    /// Applies a partial update in one statement and returns the updated user.
    pub async fn update_user(&self, id: Uuid, update: &UserUpdate) -> Result<User> {
        if let Some(name) = &update.name {
            validate_name(name)?;
        }
        if let Some(email) = &update.email {
            validate_email(email.as_deref())?;
        }
        if let Some(limits) = &update.limits {
            limits.validate()?;
        }
        let set_limits = update.limits.is_some();
        let limits = update
            .limits
            .as_ref()
            .map(LimitsRow::from)
            .unwrap_or_default();
        let row: Option<UserRow> = on_pool!(self, pool => bind_limits!(sqlx::query_as(concat!(
            "UPDATE users SET \
               name = COALESCE($2, name), \
               email = CASE WHEN $3 THEN $4 ELSE email END, \
               role = COALESCE($5, role), \
               limit_rpm = CASE WHEN $6 THEN $7 ELSE limit_rpm END, \
               limit_tpm = CASE WHEN $6 THEN $8 ELSE limit_tpm END, \
               limit_concurrent = CASE WHEN $6 THEN $9 ELSE limit_concurrent END, \
               budget_micros = CASE WHEN $6 THEN $10 ELSE budget_micros END, \
               budget_period = CASE WHEN $6 THEN $11 ELSE budget_period END, \
               disabled = COALESCE($12, disabled), \
               updated_at = $13 \
             WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id)
        .bind(update.name.as_deref().map(str::trim))
        .bind(update.email.is_some())
        .bind(update.email.clone().flatten())
        .bind(update.role.map(Role::as_str))
        .bind(set_limits), limits)
        .bind(update.disabled)
        .bind(now_millis())
        .fetch_optional(pool)
        .await)
        .map_err(on_unique("user", "email already in use"))?;
        row.ok_or_else(|| StoreError::not_found("user", id))?
            .try_into()
    }

    /// Deletes a user and (by cascade) their keys. Their ledger rows and usage records stay.
    /// Returns whether a user was deleted.
    pub async fn delete_user(&self, id: Uuid) -> Result<bool> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Users matching `filter`, oldest first.
    pub async fn list_users(&self, filter: &UserFilter, page: Page) -> Result<Vec<User>> {
        let name = contains_pattern(filter.name_contains.as_deref());
        let email = contains_pattern(filter.email_contains.as_deref());
        let rows: Vec<UserRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", user_columns!(), " FROM users ", user_filter!(),
            " ORDER BY created_at, id LIMIT $5 OFFSET $6"
        ))
        .bind(name.clone())
        .bind(email.clone())
        .bind(filter.role.map(Role::as_str))
        .bind(filter.include_disabled)
        .bind(page.sql_limit())
        .bind(page.sql_offset())
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(User::try_from).collect()
    }

    /// How many users match `filter` (for "page 3 of 12").
    pub async fn count_users(&self, filter: &UserFilter) -> Result<u64> {
        let name = contains_pattern(filter.name_contains.as_deref());
        let email = contains_pattern(filter.email_contains.as_deref());
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(concat!(
            "SELECT COUNT(*) FROM users ", user_filter!()
        ))
        .bind(name.clone())
        .bind(email.clone())
        .bind(filter.role.map(Role::as_str))
        .bind(filter.include_disabled)
        .fetch_one(pool)
        .await)?;
        Ok(crate::types::to_u64(n))
    }
}
