//! Value types shared by several tables: money, time, roles, limits, pagination.

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Money in micro-dollars (1 USD = 1,000,000). Signed: a balance below zero is debt.
pub type Micros = i64;

/// A point in time as UTC unix milliseconds.
pub type Millis = i64;

/// Largest amount one balance operation may move (one billion dollars). Keeps every sum
/// far from `i64` overflow, which SQLite would otherwise silently turn into a float.
pub(crate) const MAX_AMOUNT: Micros = 1_000_000_000 * 1_000_000;

/// The current time as UTC unix milliseconds, from the system clock.
pub fn now_millis() -> Millis {
    // A clock before 1970 is a broken machine, not a case to handle: it reads as 0.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What a user may do on the admin side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Member,
}

/// The window a money budget applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriod {
    Day,
    Week,
    Month,
    Total,
}

/// Implements `as_str`, `Display` and `FromStr` for a closed enum stored as text.
macro_rules! text_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The stored (and serialized) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::std::str::FromStr for $ty {
            type Err = $crate::StoreError;
            fn from_str(s: &str) -> $crate::Result<Self> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err($crate::StoreError::corrupt($what, format!("unknown value {other:?}"))),
                }
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(Role, "role", { Admin => "admin", Member => "member" });
text_enum!(BudgetPeriod, "budget period", {
    Day => "day", Week => "week", Month => "month", Total => "total",
});

/// Optional limits carried by a user (across all their keys) or by one key. `None` = no limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute (input + output).
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    pub max_concurrent: Option<u32>,
    /// Money that may be spent per `budget_period`.
    pub budget_micros: Option<Micros>,
    pub budget_period: Option<BudgetPeriod>,
}

impl Limits {
    pub(crate) fn validate(&self) -> Result<()> {
        match (self.budget_micros, self.budget_period) {
            (Some(b), Some(_)) if b < 0 => {
                Err(StoreError::invalid("budget_micros", "must not be negative"))
            }
            (Some(_), None) => Err(StoreError::invalid(
                "budget_period",
                "required when budget_micros is set",
            )),
            (None, Some(_)) => Err(StoreError::invalid(
                "budget_micros",
                "required when budget_period is set",
            )),
            _ => Ok(()),
        }
    }
}

/// How limits sit in a row: the same five columns in `users` and `api_keys`.
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub(crate) struct LimitsRow {
    pub limit_rpm: Option<i64>,
    pub limit_tpm: Option<i64>,
    pub limit_concurrent: Option<i64>,
    pub budget_micros: Option<i64>,
    pub budget_period: Option<String>,
}

impl From<&Limits> for LimitsRow {
    fn from(l: &Limits) -> Self {
        Self {
            limit_rpm: l.rpm.map(i64::from),
            limit_tpm: l.tpm.map(to_i64),
            limit_concurrent: l.max_concurrent.map(i64::from),
            budget_micros: l.budget_micros,
            budget_period: l.budget_period.map(|p| p.as_str().to_owned()),
        }
    }
}

impl TryFrom<LimitsRow> for Limits {
    type Error = StoreError;
    fn try_from(r: LimitsRow) -> Result<Self> {
        let narrow = |v: Option<i64>| {
            v.map(|v| u32::try_from(v).map_err(|e| StoreError::corrupt("limit", e)))
                .transpose()
        };
        Ok(Self {
            rpm: narrow(r.limit_rpm)?,
            tpm: r.limit_tpm.map(to_u64),
            max_concurrent: narrow(r.limit_concurrent)?,
            budget_micros: r.budget_micros,
            budget_period: r
                .budget_period
                .as_deref()
                .map(BudgetPeriod::from_str)
                .transpose()?,
        })
    }
}

/// Binds the five limit columns of a [`LimitsRow`], in column order, to a query.
macro_rules! bind_limits {
    ($query:expr, $limits:expr) => {
        $query
            .bind($limits.limit_rpm)
            .bind($limits.limit_tpm)
            .bind($limits.limit_concurrent)
            .bind($limits.budget_micros)
            .bind($limits.budget_period.clone())
    };
}
pub(crate) use bind_limits;

/// One page of a list: `limit` rows after skipping `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl Page {
    /// The largest page served; larger limits are clamped.
    pub const MAX_LIMIT: u32 = 1000;

    pub fn new(limit: u32, offset: u64) -> Self {
        Self { limit, offset }
    }

    pub(crate) fn sql_limit(self) -> i64 {
        i64::from(self.limit.clamp(1, Self::MAX_LIMIT))
    }

    pub(crate) fn sql_offset(self) -> i64 {
        to_i64(self.offset)
    }
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: 50,
            offset: 0,
        }
    }
}

/// `u64` → `i64` for a BIGINT column, saturating (no count we store comes near 2^63).
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `i64` from a BIGINT column → `u64`; a negative value (never written) reads as 0.
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A case-insensitive `LIKE` pattern matching `needle` anywhere, with `%`, `_` and `\`
/// escaped (the queries say `ESCAPE '\'`). `None` for an empty needle: no filter.
pub(crate) fn contains_pattern(needle: Option<&str>) -> Option<String> {
    let needle = needle?.trim();
    if needle.is_empty() {
        return None;
    }
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Some(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(
            contains_pattern(Some("A_b%")),
            Some("%a\\_b\\%%".to_owned())
        );
        assert_eq!(contains_pattern(Some("  ")), None);
        assert_eq!(contains_pattern(None), None);
    }

    #[test]
    fn budgets_need_both_halves() {
        let mut l = Limits {
            budget_micros: Some(5),
            ..Limits::default()
        };
        assert!(l.validate().is_err());
        l.budget_period = Some(BudgetPeriod::Day);
        assert!(l.validate().is_ok());
        l.budget_micros = Some(-1);
        assert!(l.validate().is_err());
    }
}
