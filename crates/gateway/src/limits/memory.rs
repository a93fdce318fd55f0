//! The in-process backend: every subject's windows, slots and budget counters behind one
//! short lock, so a check over a key and its user is all-or-nothing. Always present: it is
//! the only backend without Redis, and the fallback while Redis is unreachable.
//!
//! Bounded by what is active: once a minute, subjects whose windows are empty and that
//! have nothing in flight are dropped, and so are budget counters of ended periods (after
//! [`BUDGET_GRACE_SECS`], so late settlements still land).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::time::Instant;

use super::admission::{Backend, Held, HeldPart};
use super::outcome::{RateHeaders, Refusal};
use super::period::period_at;
use super::spec::{Budget, Scope, Subject, Who};
use super::window::Window;

/// How long a budget counter outlives its period, for settlements of late requests.
pub(super) const BUDGET_GRACE_SECS: u64 = 2 * 86_400;

/// Seconds between sweeps of idle subjects.
const SWEEP_EVERY_SECS: u64 = 60;

#[derive(Debug)]
pub(super) struct MemoryBackend {
    /// The rate windows' clock (tokio's, so tests can pause it). Budgets use the wall clock:
    /// their periods are calendar periods.
    origin: Instant,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// By `k:{id}` / `u:{id}`.
    subjects: HashMap<String, SubjectState>,
    /// By `k:{id}:{period tag}`.
    budgets: HashMap<String, BudgetCell>,
    last_sweep: u64,
}

#[derive(Debug, Default)]
struct SubjectState {
    requests: Window,
    tokens: Window,
    in_flight: u64,
}

#[derive(Debug)]
struct BudgetCell {
    /// Settled spend plus open reservations, in micro-units.
    spent: i64,
    ends_at: Option<u64>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    /// Checks every limit of the subject and, only if all pass, counts the request.
    pub fn admit(
        &self,
        subject: &Subject,
        estimated_tokens: u64,
        estimated_cost_micros: i64,
    ) -> Result<(Held, RateHeaders), Refusal> {
        let now_us = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        let sec = now_us / 1_000_000;
        let wall = unix_now();
        let mut state = self.state.lock();
        let state = &mut *state;
        state.maybe_sweep(sec, wall);

        // Each limited part's counter names, computed once for the check and the count.
        let parts: Vec<_> = subject
            .parts()
            .filter(|(_, _, spec)| !spec.is_unlimited())
            .map(|(scope, id, spec)| {
                let name = subject_name(scope.letter(), id);
                let budget = spec.budget.map(|b| {
                    let period = period_at(b.period, wall);
                    (b, budget_name(&name, &period.tag), period.ends_at)
                });
                (scope, id, spec, name, budget)
            })
            .collect();

        // Check every part first: a refusal leaves nothing counted.
        for (scope, id, spec, name, budget) in &parts {
            let who = || Who {
                scope: *scope,
                id: (*id).to_owned(),
            };
            if !state.subjects.contains_key(name) {
                state.subjects.insert(name.clone(), SubjectState::default());
            }
            let Some(s) = state.subjects.get_mut(name) else {
                continue;
            };
            s.requests.prune(sec);
            s.tokens.prune(sec);
            if let Some(limit) = spec.rpm
                && s.requests.total() + 1 > limit
            {
                return Err(Refusal::Requests {
                    who: who(),
                    limit,
                    retry_after: s.requests.wait_for(limit, 1, now_us),
                });
            }
            if let Some(limit) = spec.tpm
                && s.tokens.total() + estimated_tokens > limit
            {
                return Err(Refusal::Tokens {
                    who: who(),
                    limit,
                    requested: estimated_tokens,
                    retry_after: s.tokens.wait_for(limit, estimated_tokens, now_us),
                });
            }
            if let Some(limit) = spec.max_concurrent
                && s.in_flight + 1 > limit
            {
                return Err(Refusal::Concurrency { who: who(), limit });
            }
            if let Some((budget, key, ends_at)) = budget {
                let spent = state.budgets.get(key).map_or(0, |c| c.spent);
                if spent >= budget.limit_micros {
                    return Err(Refusal::Budget {
                        who: who(),
                        spent,
                        limit: budget.limit_micros,
                        period: budget.period,
                        resets_in: ends_at
                            .map(|end| std::time::Duration::from_secs(end.saturating_sub(wall))),
                    });
                }
            }
        }

        // Every check passed: count.
        let mut held = Held::new(
            Backend::Memory,
            sec,
            estimated_tokens,
            estimated_cost_micros,
        );
        let mut headers = RateHeaders::default();
        for (scope, id, spec, name, budget) in parts {
            let Some(s) = state.subjects.get_mut(&name) else {
                continue;
            };
            let mut part = HeldPart::new(scope, id);
            let mut mine = RateHeaders::default();
            if let Some(limit) = spec.rpm {
                s.requests.add(sec, 1);
                mine.limit_requests = Some(limit);
                mine.remaining_requests = limit.saturating_sub(s.requests.total());
                mine.reset_requests = s.requests.next_release(now_us);
            }
            if let Some(limit) = spec.tpm {
                s.tokens.add(sec, estimated_tokens);
                part.tokens = true;
                mine.limit_tokens = Some(limit);
                mine.remaining_tokens = limit.saturating_sub(s.tokens.total());
                mine.reset_tokens = s.tokens.next_release(now_us);
            }
            if spec.max_concurrent.is_some() {
                s.in_flight += 1;
                part.slot = true;
            }
            if let Some((_, key, ends_at)) = budget {
                if let Some(cell) = state.budgets.get_mut(&key) {
                    cell.spent = cell.spent.saturating_add(estimated_cost_micros);
                } else {
                    let spent = estimated_cost_micros;
                    state
                        .budgets
                        .insert(key.clone(), BudgetCell { spent, ends_at });
                }
                part.budget = Some(key);
            }
            headers.merge_stricter(&mine);
            held.parts.push(part);
        }
        Ok((held, headers))
    }

    /// Releases the held slots, reconciles the tokens to `actual_tokens` and settles the
    /// budget reservation to `actual_cost_micros`.
    pub fn settle(&self, held: &Held, actual_tokens: u64, actual_cost_micros: i64) {
        let sec = self.origin.elapsed().as_secs();
        let token_delta = held.token_delta(actual_tokens);
        let cost_delta = actual_cost_micros.saturating_sub(held.reserved_micros);
        let mut state = self.state.lock();
        for part in &held.parts {
            let name = subject_name(part.scope.letter(), &part.id);
            if let Some(s) = state.subjects.get_mut(&name) {
                if part.tokens && token_delta != 0 {
                    s.tokens.prune(sec);
                    s.tokens.adjust(held.second, token_delta);
                }
                if part.slot {
                    s.in_flight = s.in_flight.saturating_sub(1);
                }
            }
            if let Some(key) = &part.budget
                && let Some(cell) = state.budgets.get_mut(key)
            {
                cell.spent = cell.spent.saturating_add(cost_delta);
            }
        }
    }
}

impl MemoryBackend {
    /// Sets the current-period budget counter of a key or user to `spent`, unless this
    /// instance has already counted something in that period (then the counter is already
    /// the truth from this instance's point of view). For start-up, from stored usage.
    pub fn seed_budget(&self, scope: Scope, id: &str, budget: Budget, spent: i64) -> bool {
        let wall = unix_now();
        let period = period_at(budget.period, wall);
        let key = budget_name(&subject_name(scope.letter(), id), &period.tag);
        let mut state = self.state.lock();
        if state.budgets.contains_key(&key) {
            return false;
        }
        state.budgets.insert(
            key,
            BudgetCell {
                spent,
                ends_at: period.ends_at,
            },
        );
        true
    }
}

impl State {
    fn maybe_sweep(&mut self, sec: u64, wall: u64) {
        if sec < self.last_sweep + SWEEP_EVERY_SECS {
            return;
        }
        self.last_sweep = sec;
        self.subjects.retain(|_, s| {
            s.requests.prune(sec);
            s.tokens.prune(sec);
            !(s.requests.is_empty() && s.tokens.is_empty() && s.in_flight == 0)
        });
        self.budgets
            .retain(|_, c| c.ends_at.is_none_or(|end| end + BUDGET_GRACE_SECS > wall));
    }
}

fn subject_name(letter: char, id: &str) -> String {
    format!("{letter}:{id}")
}

fn budget_name(subject: &str, tag: &str) -> String {
    format!("{subject}:{tag}")
}

/// Seconds since the Unix epoch (0 if the clock is before it, which no real clock is).
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::limits::spec::LimitSpec;

    #[tokio::test(start_paused = true)]
    async fn idle_subjects_are_forgotten() {
        let memory = MemoryBackend::new();
        let spec = LimitSpec {
            rpm: Some(10),
            max_concurrent: Some(10),
            ..LimitSpec::default()
        };
        let mut busy = None;
        for i in 0..1000 {
            let (held, _) = memory
                .admit(&Subject::key(format!("k{i}"), spec.clone()), 0, 0)
                .expect("admitted");
            if i == 0 {
                busy = Some(held);
            } else {
                memory.settle(&held, 0, 0);
            }
        }
        assert_eq!(memory.state.lock().subjects.len(), 1000);
        tokio::time::advance(Duration::from_secs(62)).await;
        let (held, _) = memory
            .admit(&Subject::key("new", spec), 0, 0)
            .expect("admitted");
        // Only the subject with a request in flight and the new one remain.
        assert_eq!(memory.state.lock().subjects.len(), 2);
        memory.settle(&held, 0, 0);
        memory.settle(&busy.expect("held"), 0, 0);
    }
}
