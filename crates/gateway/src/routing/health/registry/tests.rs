//! Registry identity, in-flight accounting, recording outcomes and the size bound.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::routing::health::BreakerState;

fn cfg() -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: 2,
        ..BreakerConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn same_key_same_arc() {
    let reg = HealthRegistry::new(cfg());
    let a = reg.target("openai", "gpt-4o");
    let b = reg.clone().target("openai", "gpt-4o");
    assert!(Arc::ptr_eq(&a, &b));
    let other_model = reg.target("openai", "gpt-4o-mini");
    let other_provider = reg.target("groq", "gpt-4o");
    assert!(!Arc::ptr_eq(&a, &other_model));
    assert!(!Arc::ptr_eq(&a, &other_provider));
    assert_eq!(reg.len(), 3);
    assert!(reg.get("groq", "gpt-4o").is_some());
    assert!(reg.get("groq", "llama").is_none());
}

#[tokio::test(start_paused = true)]
async fn in_flight_guards_count() {
    let reg = HealthRegistry::new(cfg());
    let t = reg.target("openai", "gpt-4o");
    assert_eq!(t.in_flight(), 0);
    let g1 = t.enter();
    let g2 = reg.target("openai", "gpt-4o").enter();
    assert_eq!(t.in_flight(), 2);
    assert!(Arc::ptr_eq(g1.target(), &t));
    drop(g1);
    assert_eq!(t.in_flight(), 1);
    let moved = tokio::spawn(async move { drop(g2) });
    moved.await.expect("task runs");
    assert_eq!(t.in_flight(), 0);
    assert_eq!(reg.snapshot()[0].2.in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn outcomes_reach_breaker_counters_and_ewma() {
    let reg = HealthRegistry::new(cfg());
    let t = reg.target("openai", "gpt-4o");
    let a = t.breaker.try_acquire().expect("closed");
    t.record_success(a, Some(Duration::from_millis(120)));
    for _ in 0..2 {
        let a = t.breaker.try_acquire().expect("closed");
        t.record_failure(a, "upstream 503".to_owned());
    }
    let snap = t.snapshot();
    assert_eq!(snap.breaker.state, BreakerState::Open);
    assert_eq!((snap.successes, snap.failures), (1, 2));
    assert_eq!(snap.ewma_ttft_ms, Some(120));
    let last = snap.last_error.expect("an error was recorded");
    assert_eq!(last.message, "upstream 503");
}

#[tokio::test(start_paused = true)]
async fn record_error_keeps_a_bounded_message_only() {
    let t = TargetHealth::new(cfg());
    t.record_error("é".repeat(MAX_ERROR_CHARS + 10));
    let snap = t.snapshot();
    let message = snap.last_error.expect("recorded").message;
    assert_eq!(message.chars().count(), MAX_ERROR_CHARS + 1);
    assert!(message.ends_with('…'));
    assert_eq!((snap.successes, snap.failures), (0, 0));
    assert_eq!(snap.breaker.consecutive_failures, 0);
}

#[tokio::test(start_paused = true)]
async fn snapshot_is_sorted_and_serializes() {
    let reg = HealthRegistry::new(cfg());
    for (p, m) in [("openai", "b"), ("anthropic", "z"), ("openai", "a")] {
        let _ = reg.target(p, m);
    }
    let snap = reg.snapshot();
    let keys: Vec<(&str, &str)> = snap
        .iter()
        .map(|(p, m, _)| (p.as_str(), m.as_str()))
        .collect();
    assert_eq!(keys, [("anthropic", "z"), ("openai", "a"), ("openai", "b")]);
    reg.target("openai", "a").record_error("boom".to_owned());
    let v = serde_json::to_value(reg.target("openai", "a").snapshot()).expect("serializes");
    assert_eq!(v["breaker"]["state"], "closed");
    assert_eq!(v["in_flight"], 0);
    assert_eq!(v["ewma_ttft_ms"], serde_json::Value::Null);
    assert_eq!(v["last_error"]["message"], "boom");
    assert!(
        v["last_error"]["at_unix_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 0)
    );
    assert_eq!(v["quota"]["exhausted_for_ms"], serde_json::Value::Null);
}

#[tokio::test(start_paused = true)]
async fn full_registry_evicts_the_least_recently_used_idle_target() {
    let reg = HealthRegistry::with_capacity(cfg(), 2);
    let _ = reg.target("p", "old");
    let _ = reg.target("p", "recent");
    let _ = reg.target("p", "old"); // now "recent" is the least recently used
    let _ = reg.target("p", "new");
    assert_eq!(reg.len(), 2);
    assert!(reg.get("p", "old").is_some());
    assert!(reg.get("p", "recent").is_none());
    assert!(reg.get("p", "new").is_some());
}

#[tokio::test(start_paused = true)]
async fn full_registry_with_every_target_held_hands_out_untracked() {
    let reg = HealthRegistry::with_capacity(cfg(), 1);
    let held = reg.target("p", "held");
    let a = reg.target("p", "other");
    let b = reg.target("p", "other");
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(reg.len(), 1);
    assert!(reg.get("p", "other").is_none());
    drop(held);
    let _ = reg.target("p", "other");
    assert!(reg.get("p", "other").is_some());
    assert!(reg.get("p", "held").is_none());
}
