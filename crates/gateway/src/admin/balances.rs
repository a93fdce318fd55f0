//! Balance operations on a user — deposit, withdraw, set the credit limit — and the audit
//! trail they leave. Each is one atomic store operation that writes its ledger row in the
//! same transaction, with `actor = "admin"` and the caller's note.
//!
//! The first operation on a user makes the user *billed*: from then on the gateway refuses
//! their requests when the balance (cash + credit) does not cover the estimated cost, and
//! charges each request's cost to it. After each operation the limits engine re-reads the
//! user's balance, so the change applies to the next request.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use store::{Audit, Balance, LedgerEntry, LedgerKind};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::common::page;
use super::error::{AdminError, ErrorBody};
use super::extract::{self, ACTOR, Body, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(deposit))
        .routes(routes!(withdraw))
        .routes(routes!(credit_limit))
        .routes(routes!(ledger))
}

/// A user's balance after an operation, in micro-dollars.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceDto {
    pub cash_micros: i64,
    pub credit_limit_micros: i64,
    /// Cash plus credit.
    pub available_micros: i64,
}

impl From<Balance> for BalanceDto {
    fn from(b: Balance) -> Self {
        Self {
            cash_micros: b.cash,
            credit_limit_micros: b.credit_limit,
            available_micros: b.available(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountRequest {
    /// A positive amount in micro-dollars.
    pub amount_micros: i64,
    /// Written to the ledger.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditLimitRequest {
    /// How far below zero cash may go, in micro-dollars (0 = no credit).
    pub credit_limit_micros: i64,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKindDto {
    Deposit,
    Withdraw,
    CreditLimit,
    Charge,
    Refund,
}

/// One row of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: LedgerKindDto,
    /// Signed change to cash; for `credit_limit`, the new limit.
    pub amount_micros: i64,
    pub balance_after_micros: i64,
    pub credit_limit_after_micros: i64,
    pub note: Option<String>,
    pub actor: Option<String>,
    pub request_id: Option<String>,
    pub created_at: i64,
}

impl From<LedgerEntry> for LedgerEntryDto {
    fn from(e: LedgerEntry) -> Self {
        Self {
            id: e.id,
            user_id: e.user_id,
            kind: match e.kind {
                LedgerKind::Deposit => LedgerKindDto::Deposit,
                LedgerKind::Withdraw => LedgerKindDto::Withdraw,
                LedgerKind::CreditLimit => LedgerKindDto::CreditLimit,
                LedgerKind::Charge => LedgerKindDto::Charge,
                LedgerKind::Refund => LedgerKindDto::Refund,
            },
            amount_micros: e.amount,
            balance_after_micros: e.balance_after,
            credit_limit_after_micros: e.credit_limit_after,
            note: e.note,
            actor: e.actor,
            request_id: e.request_id,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerList {
    pub items: Vec<LedgerEntryDto>,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1..=1000 (default 50).
    limit: Option<u32>,
    offset: Option<u64>,
}

fn audit(note: Option<String>) -> Audit {
    Audit {
        note,
        ..Audit::by(ACTOR)
    }
}

/// Re-reads the user's balance into the limits engine. The operation itself succeeded: a
/// failed re-read is logged, and the periodic refresh catches up.
async fn refresh(state: &AppState, store: &store::Store, id: Uuid) {
    if let Err(e) = state.services().limiter.refresh_balance(store, id).await {
        tracing::warn!(user = %id, error = %e, "could not re-read the balance after an operation");
    }
}

/// Adds cash to a user's balance.
#[utoipa::path(post, operation_id = "deposit", path = "/users/{id}/deposit", tag = "balances",
    params(("id" = Uuid, Path)), request_body = AmountRequest,
    responses((status = 200, body = BalanceDto), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn deposit(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Body(req): Body<AmountRequest>,
) -> Result<Json<BalanceDto>, AdminError> {
    let store = extract::store(&state)?;
    let balance = store
        .deposit(id, req.amount_micros, &audit(req.note))
        .await?;
    refresh(&state, store, id).await;
    Ok(Json(balance.into()))
}

/// Takes cash out of a user's balance; never dips into credit.
#[utoipa::path(post, operation_id = "withdraw", path = "/users/{id}/withdraw", tag = "balances",
    params(("id" = Uuid, Path)), request_body = AmountRequest,
    responses((status = 200, body = BalanceDto),
        (status = 409, description = "not enough cash", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn withdraw(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Body(req): Body<AmountRequest>,
) -> Result<Json<BalanceDto>, AdminError> {
    let store = extract::store(&state)?;
    let balance = store
        .withdraw(id, req.amount_micros, &audit(req.note))
        .await?;
    refresh(&state, store, id).await;
    Ok(Json(balance.into()))
}

/// Sets how far below zero a user's cash may go.
#[utoipa::path(post, operation_id = "set_credit_limit", path = "/users/{id}/credit-limit", tag = "balances",
    params(("id" = Uuid, Path)), request_body = CreditLimitRequest,
    responses((status = 200, body = BalanceDto), (status = 404, body = ErrorBody)))]
pub async fn credit_limit(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Body(req): Body<CreditLimitRequest>,
) -> Result<Json<BalanceDto>, AdminError> {
    let store = extract::store(&state)?;
    let balance = store
        .set_credit_limit(id, req.credit_limit_micros, &audit(req.note))
        .await?;
    refresh(&state, store, id).await;
    Ok(Json(balance.into()))
}

/// A user's balance history, newest first: deposits, withdrawals, credit changes, charges
/// and refunds.
#[utoipa::path(get, operation_id = "list_ledger", path = "/users/{id}/ledger", tag = "balances",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = LedgerList), (status = 404, body = ErrorBody)))]
pub async fn ledger(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(q): Query<PageQuery>,
) -> Result<Json<LedgerList>, AdminError> {
    let store = extract::store(&state)?;
    let page = page(q.limit, q.offset);
    let entries = store.list_ledger(id, page).await?;
    if entries.is_empty() && store.get_user(id).await?.is_none() {
        return Err(AdminError::not_found(format!("user {id} not found")));
    }
    Ok(Json(LedgerList {
        items: entries.into_iter().map(Into::into).collect(),
        limit: page.limit,
        offset: page.offset,
    }))
}
