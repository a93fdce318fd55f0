//! Balances: cash and credit per user, with an audit trail in `balance_ledger`.
//!
//! Every operation is ONE conditional `UPDATE … RETURNING` (so concurrent callers, on one
//! instance or many, can never overdraw: the database checks and changes the balance in the
//! same statement) followed by the ledger insert, both in one transaction. Nothing here
//! reads a balance into Rust and writes it back.
//!
//! Two ways to take money, matching reserve-then-settle:
//! - [`Store::charge`] refuses unless cash + credit covers the amount (a reservation);
//! - [`Store::settle`] always applies, even past the credit limit: it records what a call
//!   already cost, and losing that would be worse than a small debt.
//!
//! [`Store::refund`] gives back the unused part of a reservation.

use std::str::FromStr;

use serde::Serialize;
use uuid::Uuid;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::types::{MAX_AMOUNT, Micros, Millis, Page, now_millis, text_enum};

/// Why a balance changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    Deposit,
    Withdraw,
    CreditLimit,
    Charge,
    Refund,
}

text_enum!(LedgerKind, "ledger kind", {
    Deposit => "deposit", Withdraw => "withdraw", CreditLimit => "credit_limit",
    Charge => "charge", Refund => "refund",
});

/// Who did it and why, written to the ledger with the change.
#[derive(Clone, Debug, Default)]
pub struct Audit {
    /// Who asked: an admin's name, `"gateway"`, a CLI token id.
    pub actor: Option<String>,
    pub note: Option<String>,
    /// The request a charge or refund belongs to.
    pub request_id: Option<String>,
}

impl Audit {
    pub fn by(actor: impl Into<String>) -> Self {
        Self {
            actor: Some(actor.into()),
            ..Self::default()
        }
    }
}

/// A user's balance after an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Balance {
    #[sqlx(rename = "balance_cash")]
    pub cash: Micros,
    pub credit_limit: Micros,
}

impl Balance {
    /// Cash plus credit: what a `charge` may still take.
    pub fn available(&self) -> Micros {
        self.cash.saturating_add(self.credit_limit)
    }
}

/// One row of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: LedgerKind,
    /// Signed change to cash (negative for withdraw and charge); for `credit_limit`, the new limit.
    pub amount: Micros,
    pub balance_after: Micros,
    pub credit_limit_after: Micros,
    pub note: Option<String>,
    pub actor: Option<String>,
    pub request_id: Option<String>,
    pub created_at: Millis,
}

#[derive(sqlx::FromRow)]
struct LedgerRow {
    id: Uuid,
    user_id: Uuid,
    kind: String,
    amount: i64,
    balance_after: i64,
    credit_limit_after: i64,
    note: Option<String>,
    actor: Option<String>,
    request_id: Option<String>,
    created_at: i64,
}

impl TryFrom<LedgerRow> for LedgerEntry {
    type Error = StoreError;
    fn try_from(r: LedgerRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            user_id: r.user_id,
            kind: LedgerKind::from_str(&r.kind)?,
            amount: r.amount,
            balance_after: r.balance_after,
            credit_limit_after: r.credit_limit_after,
            note: r.note,
            actor: r.actor,
            request_id: r.request_id,
            created_at: r.created_at,
        })
    }
}

// Each statement takes $1 = amount (or new credit limit), $2 = user id, $3 = now.
const DEPOSIT: &str = "UPDATE users SET balance_cash = balance_cash + $1, updated_at = $3 \
     WHERE id = $2 RETURNING balance_cash, credit_limit";
const WITHDRAW: &str = "UPDATE users SET balance_cash = balance_cash - $1, updated_at = $3 \
     WHERE id = $2 AND balance_cash >= $1 RETURNING balance_cash, credit_limit";
const SET_CREDIT: &str = "UPDATE users SET credit_limit = $1, updated_at = $3 \
     WHERE id = $2 RETURNING balance_cash, credit_limit";
const CHARGE: &str = "UPDATE users SET balance_cash = balance_cash - $1, updated_at = $3 \
     WHERE id = $2 AND balance_cash + credit_limit >= $1 RETURNING balance_cash, credit_limit";
const SETTLE: &str = "UPDATE users SET balance_cash = balance_cash - $1, updated_at = $3 \
     WHERE id = $2 RETURNING balance_cash, credit_limit";

const INSERT_LEDGER: &str = "INSERT INTO balance_ledger \
     (id, user_id, kind, amount, balance_after, credit_limit_after, note, actor, request_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

fn check_amount(amount: Micros) -> Result<()> {
    if amount <= 0 || amount > MAX_AMOUNT {
        return Err(StoreError::invalid(
            "amount",
            format!("must be in 1..={MAX_AMOUNT} micros"),
        ));
    }
    Ok(())
}

impl Store {
    /// Adds cash.
    pub async fn deposit(&self, user_id: Uuid, amount: Micros, audit: &Audit) -> Result<Balance> {
        check_amount(amount)?;
        self.balance_op(user_id, LedgerKind::Deposit, DEPOSIT, amount, amount, audit)
            .await?
            .ok_or_else(|| StoreError::not_found("user", user_id))
    }

    /// Takes cash out; never dips into credit. `InsufficientFunds` if cash is short.
    pub async fn withdraw(&self, user_id: Uuid, amount: Micros, audit: &Audit) -> Result<Balance> {
        check_amount(amount)?;
        let done = self
            .balance_op(
                user_id,
                LedgerKind::Withdraw,
                WITHDRAW,
                amount,
                -amount,
                audit,
            )
            .await?;
        self.or_insufficient(done, user_id, amount).await
    }

    /// Sets how far below zero cash may go. Lowering it below the current debt is allowed:
    /// further charges are refused until the debt is paid down.
    pub async fn set_credit_limit(
        &self,
        user_id: Uuid,
        limit: Micros,
        audit: &Audit,
    ) -> Result<Balance> {
        if !(0..=MAX_AMOUNT).contains(&limit) {
            return Err(StoreError::invalid(
                "credit_limit",
                format!("must be in 0..={MAX_AMOUNT} micros"),
            ));
        }
        self.balance_op(
            user_id,
            LedgerKind::CreditLimit,
            SET_CREDIT,
            limit,
            limit,
            audit,
        )
        .await?
        .ok_or_else(|| StoreError::not_found("user", user_id))
    }

    /// Takes `amount` only if cash + credit covers it, atomically: `InsufficientFunds`
    /// otherwise. Concurrent charges can never take more than cash + credit in total.
    pub async fn charge(&self, user_id: Uuid, amount: Micros, audit: &Audit) -> Result<Balance> {
        check_amount(amount)?;
        let done = self
            .balance_op(user_id, LedgerKind::Charge, CHARGE, amount, -amount, audit)
            .await?;
        self.or_insufficient(done, user_id, amount).await
    }

    /// Takes `amount` unconditionally (may go past the credit limit): the settled cost of a
    /// call that already happened. Written to the ledger as a `charge`.
    pub async fn settle(&self, user_id: Uuid, amount: Micros, audit: &Audit) -> Result<Balance> {
        check_amount(amount)?;
        self.balance_op(user_id, LedgerKind::Charge, SETTLE, amount, -amount, audit)
            .await?
            .ok_or_else(|| StoreError::not_found("user", user_id))
    }

    /// Gives cash back, e.g. the unused part of a reservation.
    pub async fn refund(&self, user_id: Uuid, amount: Micros, audit: &Audit) -> Result<Balance> {
        check_amount(amount)?;
        self.balance_op(user_id, LedgerKind::Refund, DEPOSIT, amount, amount, audit)
            .await?
            .ok_or_else(|| StoreError::not_found("user", user_id))
    }

    /// The user's current balance.
    pub async fn balance(&self, user_id: Uuid) -> Result<Balance> {
        let row: Option<Balance> = on_pool!(self, pool => sqlx::query_as(
            "SELECT balance_cash, credit_limit FROM users WHERE id = $1"
        )
        .bind(user_id)
        .fetch_optional(pool)
        .await)?;
        row.ok_or_else(|| StoreError::not_found("user", user_id))
    }

    /// Every user whose balance is billed — one with at least one ledger entry (a deposit,
    /// withdrawal, credit-limit change, charge or refund) — with their current balance.
    /// Users never touched by a balance operation are not listed: the gateway does not
    /// charge or refuse them.
    pub async fn billed_balances(&self) -> Result<Vec<(Uuid, Balance)>> {
        let rows: Vec<(Uuid, i64, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT u.id, u.balance_cash, u.credit_limit FROM users u \
             WHERE EXISTS (SELECT 1 FROM balance_ledger l WHERE l.user_id = u.id)"
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, cash, credit_limit)| (id, Balance { cash, credit_limit }))
            .collect())
    }

    /// The balance of one user if it is billed (see [`Store::billed_balances`]); `None` for
    /// an unknown user or one never touched by a balance operation.
    pub async fn billed_balance(&self, user_id: Uuid) -> Result<Option<Balance>> {
        let row: Option<Balance> = on_pool!(self, pool => sqlx::query_as(
            "SELECT balance_cash, credit_limit FROM users u WHERE id = $1 \
             AND EXISTS (SELECT 1 FROM balance_ledger l WHERE l.user_id = u.id)"
        )
        .bind(user_id)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    /// The user's ledger, newest first.
    pub async fn list_ledger(&self, user_id: Uuid, page: Page) -> Result<Vec<LedgerEntry>> {
        let rows: Vec<LedgerRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, user_id, kind, amount, balance_after, credit_limit_after, note, actor, \
             request_id, created_at FROM balance_ledger WHERE user_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        )
        .bind(user_id)
        .bind(page.sql_limit())
        .bind(page.sql_offset())
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(LedgerEntry::try_from).collect()
    }

    /// Runs one balance statement and its ledger insert in a transaction. `None` when the
    /// statement's condition failed (or the user does not exist); nothing is written then.
    async fn balance_op(
        &self,
        user_id: Uuid,
        kind: LedgerKind,
        sql: &'static str,
        value: Micros,
        ledger_amount: Micros,
        audit: &Audit,
    ) -> Result<Option<Balance>> {
        let now = now_millis();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let balance: Option<Balance> = sqlx::query_as(sql)
                .bind(value)
                .bind(user_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(balance) = balance else {
                tx.rollback().await?;
                return Ok(None);
            };
            sqlx::query(INSERT_LEDGER)
                .bind(Uuid::now_v7())
                .bind(user_id)
                .bind(kind.as_str())
                .bind(ledger_amount)
                .bind(balance.cash)
                .bind(balance.credit_limit)
                .bind(audit.note.as_deref())
                .bind(audit.actor.as_deref())
                .bind(audit.request_id.as_deref())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(balance))
        })
    }

    /// Turns a refused conditional update into the right error.
    async fn or_insufficient(
        &self,
        done: Option<Balance>,
        user_id: Uuid,
        amount: Micros,
    ) -> Result<Balance> {
        match done {
            Some(balance) => Ok(balance),
            None if self.get_user(user_id).await?.is_some() => Err(StoreError::InsufficientFunds {
                user_id,
                requested: amount,
            }),
            None => Err(StoreError::not_found("user", user_id)),
        }
    }
}
