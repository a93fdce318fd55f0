//! The recent responses, kept in memory so `GET /v1/responses/{id}` and
//! `previous_response_id` work: at most [`MAX_ENTRIES`] responses, none older than
//! [`MAX_AGE`], and at most [`MAX_BYTES`] of JSON in all; the oldest go first. Each entry
//! belongs to the caller that created it (its principal's scope) and is invisible to others.
//! The store is per process and not persisted: a restart forgets every response.

use std::collections::{HashMap, VecDeque};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;

/// The most responses kept.
pub const MAX_ENTRIES: usize = 10_000;
/// How long a response is kept.
pub const MAX_AGE: Duration = Duration::from_secs(3600);
/// The most JSON (input items and response) kept, in bytes.
pub const MAX_BYTES: usize = 256 << 20;

/// A stored response with the input that led to it.
#[derive(Clone)]
pub struct Entry {
    pub scope: String,
    /// Every input item of the turn, those of earlier turns included.
    pub input: Vec<Value>,
    /// The response object.
    pub response: Value,
}

struct Stored {
    entry: Entry,
    at: Instant,
    size: usize,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Stored>,
    /// Ids in insertion order (an id already removed is skipped when it comes up).
    order: VecDeque<String>,
    bytes: usize,
}

/// The bounded store.
pub struct Store {
    inner: Mutex<Inner>,
    max_entries: usize,
    max_age: Duration,
    max_bytes: usize,
}

static STORE: LazyLock<Store> = LazyLock::new(|| Store::new(MAX_ENTRIES, MAX_AGE, MAX_BYTES));

/// The process's store.
pub fn global() -> &'static Store {
    &STORE
}

impl Store {
    pub fn new(max_entries: usize, max_age: Duration, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_entries,
            max_age,
            max_bytes,
        }
    }

    /// Keeps `entry` under `id`, evicting the oldest entries beyond the bounds.
    pub fn insert(&self, id: String, entry: Entry) {
        let size = entry.response.to_string().len()
            + entry
                .input
                .iter()
                .map(|v| v.to_string().len())
                .sum::<usize>();
        if size > self.max_bytes {
            return;
        }
        let mut inner = self.inner.lock();
        if let Some(old) = inner.map.remove(&id) {
            inner.bytes -= old.size;
        }
        inner.bytes += size;
        inner.map.insert(
            id.clone(),
            Stored {
                entry,
                at: Instant::now(),
                size,
            },
        );
        inner.order.push_back(id);
        self.evict(&mut inner);
    }

    fn evict(&self, inner: &mut Inner) {
        let now = Instant::now();
        while let Some(id) = inner.order.front() {
            let over = inner.map.len() > self.max_entries || inner.bytes > self.max_bytes;
            let expired = inner
                .map
                .get(id)
                .is_none_or(|s| now.duration_since(s.at) > self.max_age);
            if !over && !expired {
                break;
            }
            if let Some(id) = inner.order.pop_front()
                && let Some(gone) = inner.map.remove(&id)
            {
                inner.bytes -= gone.size;
            }
        }
    }

    /// The entry `id` of the caller `scope`, when it is still kept.
    pub fn get(&self, id: &str, scope: &str) -> Option<Entry> {
        let mut inner = self.inner.lock();
        self.evict(&mut inner);
        let stored = inner.map.get(id)?;
        (stored.entry.scope == scope && stored.at.elapsed() <= self.max_age)
            .then(|| stored.entry.clone())
    }

    /// Forgets `id`; whether the caller `scope` had it.
    pub fn remove(&self, id: &str, scope: &str) -> bool {
        let mut inner = self.inner.lock();
        if inner.map.get(id).is_none_or(|s| s.entry.scope != scope) {
            return false;
        }
        if let Some(gone) = inner.map.remove(id) {
            inner.bytes -= gone.size;
        }
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(scope: &str) -> Entry {
        Entry {
            scope: scope.into(),
            input: vec![json!({"role": "user", "content": "hi"})],
            response: json!({"id": "x"}),
        }
    }

    #[test]
    fn the_oldest_entries_go_beyond_the_count() {
        let store = Store::new(2, MAX_AGE, MAX_BYTES);
        for id in ["a", "b", "c"] {
            store.insert(id.into(), entry("s"));
        }
        assert_eq!(store.len(), 2);
        assert!(store.get("a", "s").is_none());
        assert!(store.get("c", "s").is_some());
    }

    #[test]
    fn entries_expire_and_stay_with_their_caller() {
        let store = Store::new(10, Duration::from_millis(30), MAX_BYTES);
        store.insert("a".into(), entry("s"));
        assert!(store.get("a", "other").is_none());
        assert!(!store.remove("a", "other"));
        assert!(store.get("a", "s").is_some());
        std::thread::sleep(Duration::from_millis(50));
        assert!(store.get("a", "s").is_none());
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn the_byte_bound_evicts_the_oldest() {
        let store = Store::new(10, MAX_AGE, 100);
        store.insert("a".into(), entry("s"));
        store.insert("b".into(), entry("s"));
        store.insert("c".into(), entry("s"));
        assert!(store.get("a", "s").is_none());
        assert!(store.get("c", "s").is_some());
    }
}
