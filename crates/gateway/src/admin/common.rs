//! Wire types shared by several admin resources: limits, roles, pages, and the helper that
//! tells "field absent" from "field set to null" in a PATCH body.
//!
//! The admin API has its own DTOs rather than serializing store types: the wire shape
//! (and its OpenAPI schema) is a contract, the store's structs are not.

use serde::{Deserialize, Deserializer, Serialize};
use store::Page;
use utoipa::ToSchema;

/// Default page size for lists.
pub const DEFAULT_LIMIT: u32 = 50;

/// `?limit=&offset=` turned into a store page (the store clamps `limit` to 1..=1000).
pub fn page(limit: Option<u32>, offset: Option<u64>) -> Page {
    Page::new(
        limit.unwrap_or(DEFAULT_LIMIT).clamp(1, Page::MAX_LIMIT),
        offset.unwrap_or(0),
    )
}

/// Limits on a user (across all their keys) or on one key. Absent or null = no limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsDto {
    /// Requests per minute.
    #[serde(default)]
    pub rpm: Option<u32>,
    /// Tokens per minute (input + output).
    #[serde(default)]
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    #[serde(default)]
    pub max_concurrent: Option<u32>,
    /// Money that may be spent per `budget_period`, in micro-dollars.
    #[serde(default)]
    pub budget_micros: Option<i64>,
    #[serde(default)]
    pub budget_period: Option<BudgetPeriodDto>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriodDto {
    Day,
    Week,
    Month,
    Total,
}

impl From<&store::Limits> for LimitsDto {
    fn from(l: &store::Limits) -> Self {
        Self {
            rpm: l.rpm,
            tpm: l.tpm,
            max_concurrent: l.max_concurrent,
            budget_micros: l.budget_micros,
            budget_period: l.budget_period.map(|p| match p {
                store::BudgetPeriod::Day => BudgetPeriodDto::Day,
                store::BudgetPeriod::Week => BudgetPeriodDto::Week,
                store::BudgetPeriod::Month => BudgetPeriodDto::Month,
                store::BudgetPeriod::Total => BudgetPeriodDto::Total,
            }),
        }
    }
}

impl From<&LimitsDto> for store::Limits {
    fn from(l: &LimitsDto) -> Self {
        Self {
            rpm: l.rpm,
            tpm: l.tpm,
            max_concurrent: l.max_concurrent,
            budget_micros: l.budget_micros,
            budget_period: l.budget_period.map(|p| match p {
                BudgetPeriodDto::Day => store::BudgetPeriod::Day,
                BudgetPeriodDto::Week => store::BudgetPeriod::Week,
                BudgetPeriodDto::Month => store::BudgetPeriod::Month,
                BudgetPeriodDto::Total => store::BudgetPeriod::Total,
            }),
        }
    }
}

/// What a user may do on the admin side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleDto {
    Admin,
    #[default]
    Member,
}

impl From<store::Role> for RoleDto {
    fn from(r: store::Role) -> Self {
        match r {
            store::Role::Admin => Self::Admin,
            store::Role::Member => Self::Member,
        }
    }
}

impl From<RoleDto> for store::Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Admin => Self::Admin,
            RoleDto::Member => Self::Member,
        }
    }
}

/// For `Option<Option<T>>` PATCH fields with `#[serde(default)]`: absent → `None` (leave
/// as is), `null` → `Some(None)` (clear), a value → `Some(Some(v))`.
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// An empty success (`{"deleted": true}`), for deletions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: bool,
}

impl Deleted {
    pub const YES: Self = Self { deleted: true };
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Patch {
        #[serde(default, deserialize_with = "double_option")]
        email: Option<Option<String>>,
    }

    #[test]
    fn patch_fields_tell_absent_from_null() {
        let absent: Patch = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.email, None);
        let null: Patch = serde_json::from_str(r#"{"email": null}"#).unwrap();
        assert_eq!(null.email, Some(None));
        let set: Patch = serde_json::from_str(r#"{"email": "a@b"}"#).unwrap();
        assert_eq!(set.email, Some(Some("a@b".into())));
    }

    #[test]
    fn pages_have_defaults_and_bounds() {
        assert_eq!(page(None, None), Page::new(DEFAULT_LIMIT, 0));
        assert_eq!(page(Some(0), Some(7)), Page::new(1, 7));
        assert_eq!(page(Some(5000), None).limit, Page::MAX_LIMIT);
    }
}
