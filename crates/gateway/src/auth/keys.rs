//! Gateway API keys from the store, served from an in-memory snapshot swapped atomically:
//! authenticating a request never waits on the database. The snapshot holds each active key
//! by its keyed hash, with its user's limits, and is rebuilt on start and on every refresh.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use store::{KeyFilter, KeyHash, Limits, Page, SecretBox, Store, now_millis};

use crate::limits::{Budget, BudgetPeriod, LimitSpec, Subject};
use crate::routing::glob_match;

/// The prefix every gateway key starts with.
pub const KEY_PREFIX: &str = "sk-sb-";

/// One active key, as the request path needs it.
#[derive(Debug)]
pub struct KeyEntry {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub expires_at: Option<i64>,
    /// Names or wildcards; empty: any model.
    pub allowed_models: Vec<String>,
    /// The key's and its user's limits.
    pub subject: Subject,
}

impl KeyEntry {
    pub fn allows(&self, model: &str) -> bool {
        self.allowed_models.is_empty() || self.allowed_models.iter().any(|p| glob_match(p, model))
    }

    pub fn expired(&self) -> bool {
        self.expires_at.is_some_and(|at| now_millis() >= at)
    }
}

/// The active keys, by hash.
pub struct KeyRegistry {
    store: Store,
    secrets: SecretBox,
    snapshot: ArcSwap<HashMap<KeyHash, Arc<KeyEntry>>>,
    /// Whether any key was ever created (revoked and expired ones count): once one has,
    /// the gateway never falls back to open access.
    any_created: AtomicBool,
}

impl KeyRegistry {
    /// Loads every active key.
    pub async fn load(store: Store, secrets: SecretBox) -> store::Result<Self> {
        let registry = Self {
            store,
            secrets,
            snapshot: ArcSwap::from_pointee(HashMap::new()),
            any_created: AtomicBool::new(false),
        };
        registry.refresh().await?;
        Ok(registry)
    }

    /// Rebuilds the snapshot from the store and swaps it in; requests in flight keep theirs.
    pub async fn refresh(&self) -> store::Result<()> {
        let everything = KeyFilter {
            user_id: None,
            include_revoked: true,
        };
        if !self
            .store
            .list_keys(&everything, Page::new(1, 0))
            .await?
            .is_empty()
        {
            self.any_created.store(true, Ordering::Relaxed);
        }
        let keys = self.store.list_active_keys(now_millis()).await?;
        let mut users: HashMap<uuid::Uuid, Option<store::User>> = HashMap::new();
        let mut map = HashMap::with_capacity(keys.len());
        for key in keys {
            let user = match users.get(&key.user_id) {
                Some(u) => u.clone(),
                None => {
                    let u = self.store.get_user(key.user_id).await?;
                    users.insert(key.user_id, u.clone());
                    u
                }
            };
            let Some(user) = user.filter(|u| !u.disabled) else {
                continue;
            };
            let subject = Subject::key(key.id.to_string(), limit_spec(&key.limits))
                .with_user(user.id.to_string(), limit_spec(&user.limits));
            map.insert(
                key.hash,
                Arc::new(KeyEntry {
                    id: key.id.to_string(),
                    user_id: user.id.to_string(),
                    name: key.name,
                    expires_at: key.expires_at,
                    allowed_models: key.allowed_models,
                    subject,
                }),
            );
        }
        self.snapshot.store(Arc::new(map));
        Ok(())
    }

    /// The active key a client presented, if it is one.
    pub fn lookup(&self, presented: &str) -> Option<Arc<KeyEntry>> {
        if !presented.starts_with(KEY_PREFIX) {
            return None;
        }
        let hash = self.secrets.key_hash(presented);
        self.snapshot.load().get(&hash).cloned()
    }

    /// No key was ever created: the gateway may be open (on loopback).
    pub fn none_created(&self) -> bool {
        !self.any_created.load(Ordering::Relaxed) && self.snapshot.load().is_empty()
    }

    /// The limits subject of every active key (for seeding budget counters at start).
    pub fn subjects(&self) -> Vec<Subject> {
        self.snapshot
            .load()
            .values()
            .map(|k| k.subject.clone())
            .collect()
    }

    /// Active keys in the snapshot.
    pub fn active(&self) -> usize {
        self.snapshot.load().len()
    }
}

/// The limits engine's view of stored limits.
pub fn limit_spec(limits: &Limits) -> LimitSpec {
    LimitSpec {
        rpm: limits.rpm.map(u64::from),
        tpm: limits.tpm,
        max_concurrent: limits.max_concurrent.map(u64::from),
        budget: limits
            .budget_micros
            .zip(limits.budget_period)
            .map(|(limit_micros, period)| Budget {
                limit_micros,
                period: match period {
                    store::BudgetPeriod::Day => BudgetPeriod::Day,
                    store::BudgetPeriod::Week => BudgetPeriod::Week,
                    store::BudgetPeriod::Month => BudgetPeriod::Month,
                    store::BudgetPeriod::Total => BudgetPeriod::Total,
                },
            }),
    }
}
