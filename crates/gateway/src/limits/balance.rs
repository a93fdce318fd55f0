//! Users' money balances as the request path sees them, without waiting on the database.
//!
//! The database holds the balance (cash + credit); the gateway charges it asynchronously, one
//! `settle` per request. In memory, per billed user, this book keeps:
//! - `base`: cash + credit read from the database, and `mark`: how much of this instance's
//!   charges had been *written* to the database when that read began;
//! - `charged`: every charge this instance has reserved or settled (cumulative), and
//!   `written`: how much of it is written to the database (cumulative).
//!
//! Available now = `base − (charged − mark)`: the balance read, minus everything charged
//! that the read cannot have seen (open reservations, settlements not yet written, and
//! writes that finished after the read began). A write that lands between reading `mark`
//! and reading the balance is counted twice until the next refresh — conservative, never
//! generous — so refreshes can run at any time, in any order, and each installs a
//! consistent pair.
//!
//! A request is admitted when the available balance covers its estimated cost (the same
//! estimate budgets reserve), and the estimate is reserved at once under the book's lock:
//! concurrent requests can never take more than what is available, beyond the excess of an
//! actual cost over its estimate. Settled costs may take a balance below zero down to the
//! credit limit and, like `Store::settle`, past it (a call that happened is always charged).
//!
//! Users not in the book are not billed: nothing is reserved or charged for them.
//!
//! **With Redis** the same arithmetic runs in Redis (`redis/balance.lua`) on counters shared
//! by every instance, so N instances together cannot spend more than the balance either;
//! each instance keeps its own snapshot ([`RedisBalance`]: the balance it read and the
//! shared `written` counter read before it). While Redis is unreachable, this instance's
//! book serves (per-instance balances, like the other limits).

use std::collections::HashMap;

use parking_lot::Mutex;

use super::admission::Backend;
use super::outcome::Refusal;
use super::spec::{Scope, Who};

#[derive(Debug, Default)]
pub(super) struct BalanceBook {
    cells: Mutex<HashMap<String, Cell>>,
}

#[derive(Debug, Default, Clone)]
struct Cell {
    base: i64,
    mark: i64,
    charged: i64,
    written: i64,
    /// This instance's snapshot for the shared Redis counters.
    redis: Option<RedisBalance>,
}

/// A balance read from the database with the shared `written` counter read before it, and
/// the epoch of the Redis hash that counter belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RedisBalance {
    pub base: i64,
    pub mark: i64,
    pub epoch: String,
}

impl Cell {
    fn available(&self) -> i64 {
        self.base
            .saturating_sub(self.charged.saturating_sub(self.mark))
    }
}

/// A reservation against a user's balance, settled with the admission that carries it.
#[derive(Debug)]
pub(super) struct BalanceHold {
    pub user: String,
    pub reserved: i64,
    pub backend: Backend,
    /// The Redis hash's epoch (Redis reservations only).
    pub epoch: Option<String>,
}

impl BalanceHold {
    pub fn ticket(&self) -> BalanceTicket {
        BalanceTicket {
            user: self.user.clone(),
            backend: self.backend,
            epoch: self.epoch.clone(),
        }
    }
}

/// Where a settled charge was counted, for confirming it was written to the database.
#[derive(Debug, Clone)]
pub struct BalanceTicket {
    pub(super) user: String,
    pub(super) backend: Backend,
    pub(super) epoch: Option<String>,
}

impl BalanceTicket {
    /// The billed user.
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl BalanceBook {
    pub fn is_billed(&self, user: &str) -> bool {
        self.cells.lock().contains_key(user)
    }

    /// How much of this instance's charges to `user` is written to the database (read
    /// before the balance, for [`BalanceBook::install`]).
    pub fn mark(&self, user: &str) -> i64 {
        self.cells.lock().get(user).map_or(0, |c| c.written)
    }

    /// Installs a balance read from the database: `available` (cash + credit) and the
    /// `mark` read before it. Makes the user billed.
    pub fn install(&self, user: &str, available: i64, mark: i64) {
        let mut cells = self.cells.lock();
        let cell = cells.entry(user.to_owned()).or_default();
        cell.base = available;
        cell.mark = mark;
    }

    /// Installs this instance's snapshot for the shared Redis counters.
    pub fn install_redis(&self, user: &str, snapshot: RedisBalance) {
        let mut cells = self.cells.lock();
        cells.entry(user.to_owned()).or_default().redis = Some(snapshot);
    }

    /// This instance's snapshot for the shared Redis counters, if one was read.
    pub fn redis_snapshot(&self, user: &str) -> Option<RedisBalance> {
        self.cells.lock().get(user).and_then(|c| c.redis.clone())
    }

    /// What `user` may spend right now; `None` when the user is not billed.
    pub fn available(&self, user: &str) -> Option<i64> {
        self.cells.lock().get(user).map(Cell::available)
    }

    /// Reserves `cost` if the available balance covers it (and something is available).
    /// `Ok(None)`: the user is not billed.
    pub fn reserve(&self, user: &str, cost: i64) -> Result<Option<BalanceHold>, Refusal> {
        let mut cells = self.cells.lock();
        let Some(cell) = cells.get_mut(user) else {
            return Ok(None);
        };
        let available = cell.available();
        if available < cost || available <= 0 {
            return Err(Refusal::Balance {
                who: Who {
                    scope: Scope::User,
                    id: user.to_owned(),
                },
                available,
                needed: cost,
            });
        }
        cell.charged = cell.charged.saturating_add(cost);
        Ok(Some(BalanceHold {
            user: user.to_owned(),
            reserved: cost,
            backend: Backend::Memory,
            epoch: None,
        }))
    }

    /// Settles a reservation to the actual cost (0 for a call that produced nothing).
    pub fn settle(&self, hold: &BalanceHold, actual: i64) {
        if let Some(cell) = self.cells.lock().get_mut(&hold.user) {
            cell.charged = cell
                .charged
                .saturating_add(actual.saturating_sub(hold.reserved));
        }
    }

    /// A settled charge of `amount` is now in the database.
    pub fn written(&self, user: &str, amount: i64) {
        if let Some(cell) = self.cells.lock().get_mut(user) {
            cell.written = cell.written.saturating_add(amount);
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn reservations_never_take_more_than_is_available() {
        let book = BalanceBook::default();
        assert!(matches!(book.reserve("u", 10), Ok(None)), "not billed");
        book.install("u", 100, 0);
        let a = book.reserve("u", 60).unwrap().unwrap();
        let refused = book.reserve("u", 60).unwrap_err();
        assert!(matches!(
            refused,
            Refusal::Balance {
                available: 40,
                needed: 60,
                ..
            }
        ));
        book.settle(&a, 25);
        assert_eq!(book.available("u"), Some(75));
        let b = book.reserve("u", 60).unwrap().unwrap();
        book.settle(&b, 0);
        assert_eq!(book.available("u"), Some(75));
    }

    #[test]
    fn a_refresh_does_not_count_written_charges_twice() {
        let book = BalanceBook::default();
        book.install("u", 100, 0);
        let a = book.reserve("u", 50).unwrap().unwrap();
        book.settle(&a, 30);
        // Not written yet: a refresh now reads 100 from the database.
        let mark = book.mark("u");
        book.install("u", 100, mark);
        assert_eq!(book.available("u"), Some(70));
        // Written (the database says 70 from now on).
        book.written("u", 30);
        assert_eq!(
            book.available("u"),
            Some(70),
            "still counted until a refresh"
        );
        let mark = book.mark("u");
        book.install("u", 70, mark);
        assert_eq!(book.available("u"), Some(70));
        // A deposit of 50 seen by a refresh.
        book.install("u", 120, book.mark("u"));
        assert_eq!(book.available("u"), Some(120));
    }

    #[test]
    fn a_write_between_mark_and_read_is_counted_twice_never_missed() {
        let book = BalanceBook::default();
        book.install("u", 100, 0);
        let a = book.reserve("u", 10).unwrap().unwrap();
        book.settle(&a, 10);
        let mark = book.mark("u"); // 0
        book.written("u", 10); // the database now says 90
        book.install("u", 90, mark);
        assert_eq!(book.available("u"), Some(80), "conservative");
        book.install("u", 90, book.mark("u"));
        assert_eq!(book.available("u"), Some(90));
    }
}
