//! What is limited and how much: the typed limits of one key or user, and the subject of a
//! check (a key and, optionally, its user).

use std::fmt;

/// The limits of one key or one user. `None` means "not limited" for that dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitSpec {
    /// Requests per minute (sliding 60-second window).
    pub rpm: Option<u64>,
    /// Tokens per minute (sliding 60-second window; estimated at admission, reconciled to
    /// the actual count at settlement).
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    pub max_concurrent: Option<u64>,
    /// Money per calendar period.
    pub budget: Option<Budget>,
}

impl LimitSpec {
    /// A spec that limits nothing.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// Whether no dimension is limited (the check can be skipped).
    pub fn is_unlimited(&self) -> bool {
        self.rpm.is_none()
            && self.tpm.is_none()
            && self.max_concurrent.is_none()
            && self.budget.is_none()
    }
}

/// A spending cap per period, in integer micro-units of the gateway's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit_micros: i64,
    pub period: BudgetPeriod,
}

/// A budget period. Periods are UTC calendar periods: a day starts at 00:00 UTC, a week on
/// Monday 00:00 UTC, a month on the 1st at 00:00 UTC; `Total` never resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BudgetPeriod {
    Day,
    Week,
    Month,
    Total,
}

impl BudgetPeriod {
    /// The adjective used in messages ("daily budget").
    pub fn adjective(self) -> &'static str {
        match self {
            Self::Day => "daily",
            Self::Week => "weekly",
            Self::Month => "monthly",
            Self::Total => "total",
        }
    }
}

/// Who is limited: a key and (optionally) its user. Both are checked and counted; the
/// stricter refuses first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The key's id and limits.
    pub key: (String, LimitSpec),
    /// The user's id and limits, when the key belongs to a user with limits of their own.
    pub user: Option<(String, LimitSpec)>,
}

impl Subject {
    /// A key without a user.
    pub fn key(id: impl Into<String>, spec: LimitSpec) -> Self {
        Self {
            key: (id.into(), spec),
            user: None,
        }
    }

    /// Adds the key's user.
    pub fn with_user(mut self, id: impl Into<String>, spec: LimitSpec) -> Self {
        self.user = Some((id.into(), spec));
        self
    }

    /// Whether nothing about this subject is limited.
    pub fn is_unlimited(&self) -> bool {
        self.key.1.is_unlimited() && self.user.as_ref().is_none_or(|(_, s)| s.is_unlimited())
    }

    /// The limited parts, key first, each with its scope.
    pub(super) fn parts(&self) -> impl Iterator<Item = (Scope, &str, &LimitSpec)> {
        std::iter::once((Scope::Key, self.key.0.as_str(), &self.key.1)).chain(
            self.user
                .as_ref()
                .map(|(id, spec)| (Scope::User, id.as_str(), spec)),
        )
    }
}

/// Whether a limit belongs to a key or to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Key,
    User,
}

impl Scope {
    /// One letter used in storage keys.
    pub(super) fn letter(self) -> char {
        match self {
            Self::Key => 'k',
            Self::User => 'u',
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Key => "key",
            Self::User => "user",
        })
    }
}

/// The key or user whose limit refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub scope: Scope,
    pub id: String,
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} '{}'", self.scope, self.id)
    }
}
