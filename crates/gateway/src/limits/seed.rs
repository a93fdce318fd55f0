//! What the limits engine learns from the database, off the request path: billed users'
//! balances (at start, after every balance operation, and periodically for changes made
//! through another instance) and, for the memory backend, the budget spent so far in the
//! current period (at start, so a restart does not hand every key a fresh budget).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use store::Store;
use store::usage::SpendBy;
use uuid::Uuid;

use super::period::period_at;
use super::spec::{BudgetPeriod, Scope, Subject};
use super::{Limiter, memory};

/// How often billed balances are re-read, for deposits and other balance changes made
/// through another instance (this instance's own changes refresh at once).
pub const BALANCE_REFRESH_EVERY: Duration = Duration::from_secs(30);

impl Limiter {
    /// Start-up: seeds the in-memory budget counters from stored usage (see
    /// [`Limiter::seed_budgets`]), loads billed balances, and keeps re-reading them every
    /// [`BALANCE_REFRESH_EVERY`] until [`Limiter::shutdown`].
    pub async fn load_from_store(&self, store: &Store, subjects: &[Subject]) -> store::Result<()> {
        let seeded = self.seed_budgets(store, subjects).await?;
        let billed = self.load_balances(store).await?;
        tracing::info!(
            budgets_seeded = seeded,
            billed_users = billed,
            "limits loaded from the database"
        );
        self.refresh_balances_every(store.clone(), BALANCE_REFRESH_EVERY);
        Ok(())
    }

    /// Sets each key's and user's current-period budget counter to what stored usage says
    /// was spent since the period began (UTC calendar periods; summed from the hourly
    /// rollups, exact up to records not yet flushed). Only for the memory backend: Redis
    /// keeps its counters across restarts. A counter this instance has already used is
    /// left alone. Returns how many counters were seeded.
    pub async fn seed_budgets(&self, store: &Store, subjects: &[Subject]) -> store::Result<usize> {
        if self.shared.redis.is_some() {
            return Ok(0);
        }
        let mut spend: HashMap<(Scope, BudgetPeriod), HashMap<String, i64>> = HashMap::new();
        let mut seeded = 0;
        let mut done: std::collections::HashSet<(Scope, String)> = Default::default();
        for subject in subjects {
            for (scope, id, spec) in subject.parts() {
                let Some(budget) = spec.budget else { continue };
                if !done.insert((scope, id.to_owned())) {
                    continue;
                }
                let sums = match spend.entry((scope, budget.period)) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let start = period_at(budget.period, memory::unix_now()).starts_at;
                        let since = i64::try_from(start.saturating_mul(1000)).unwrap_or(i64::MAX);
                        let by = match scope {
                            Scope::Key => SpendBy::Key,
                            Scope::User => SpendBy::User,
                        };
                        let rows = store.spend_since(by, since).await?;
                        e.insert(
                            rows.into_iter()
                                .map(|(id, spent)| (id.to_string(), spent))
                                .collect(),
                        )
                    }
                };
                if let Some(&spent) = sums.get(id)
                    && self.shared.memory.seed_budget(scope, id, budget, spent)
                {
                    seeded += 1;
                }
            }
        }
        Ok(seeded)
    }

    /// Reads every billed user's balance and installs it. Returns how many users are
    /// billed.
    pub async fn load_balances(&self, store: &Store) -> store::Result<usize> {
        // Marks first, then the balances (see `balance` for why this order is safe); the
        // first read only says whose marks to take.
        let users = store.billed_balances().await?;
        let mut marks = HashMap::with_capacity(users.len());
        for (user, _) in &users {
            let id = user.to_string();
            let mark = self.balance_mark(&id).await;
            marks.insert(id, mark);
        }
        let balances = store.billed_balances().await?;
        for (user, balance) in &balances {
            let id = user.to_string();
            // A user billed between the two reads: its first refresh comes next time.
            if let Some(mark) = marks.get(&id) {
                self.set_balance(&id, balance.available(), mark);
            }
        }
        Ok(balances.len())
    }

    /// Re-reads one user's balance (after a deposit, withdrawal or credit-limit change);
    /// a user never touched by a balance operation stays unbilled.
    pub async fn refresh_balance(&self, store: &Store, user: Uuid) -> store::Result<()> {
        let id = user.to_string();
        let mark = self.balance_mark(&id).await;
        if let Some(balance) = store.billed_balance(user).await? {
            self.set_balance(&id, balance.available(), &mark);
        }
        Ok(())
    }

    /// Re-reads billed balances every `every` until [`Limiter::shutdown`].
    pub fn refresh_balances_every(&self, store: Store, every: Duration) {
        let weak = Arc::downgrade(&self.shared);
        let stop = self.shared.stop.clone();
        self.shared.tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                let Some(shared) = weak.upgrade() else { return };
                let limiter = Limiter { shared };
                if let Err(e) = limiter.load_balances(&store).await {
                    tracing::warn!(error = %e, "could not refresh billed balances");
                }
            }
        });
    }
}
