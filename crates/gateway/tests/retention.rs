//! The retention job against SQLite and PostgreSQL: expired raw usage records and request
//! logs are deleted in batches, recent ones and the hourly rollups stay, the job sweeps at
//! start and stops on shutdown.

#![allow(clippy::unwrap_used)]

mod db_fixture;

use std::time::{Duration, SystemTime};

use db_fixture::backend_tests;
use gateway::usage::retention::{RetentionJob, RetentionPolicy, Swept, sweep};
use store::{Page, RequestLog, Store, UsageQuery, UsageRecord, now_millis};
use tokio_util::sync::CancellationToken;

backend_tests!(
    expired_rows_go_recent_rows_and_rollups_stay,
    the_job_sweeps_at_start_and_stops_on_shutdown
);

const HOUR: i64 = 3_600_000;

fn usage(id: &str, at: i64) -> UsageRecord {
    UsageRecord {
        created_at: at,
        request_id: id.into(),
        requested_model: "m".into(),
        provider: Some("p".into()),
        input_tokens: 10,
        cost_micros: 3,
        status: 200,
        ..UsageRecord::default()
    }
}

fn log(id: &str, at: i64) -> RequestLog {
    RequestLog {
        request_id: id.into(),
        created_at: at,
        status: 200,
        request_body: Some("{}".into()),
        response_body: None,
    }
}

fn policy() -> RetentionPolicy {
    RetentionPolicy {
        usage: Some(Duration::from_secs(2 * 3600)),
        request_logs: Some(Duration::from_secs(3600)),
        every: Duration::from_secs(3600),
        batch: 3,
    }
}

async fn ids(store: &Store, now: i64) -> (Vec<String>, Vec<String>) {
    let all = UsageQuery::between(0, now + HOUR);
    let mut usage: Vec<String> = store
        .list_usage(&all, Page::new(1000, 0))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    usage.sort();
    let mut logs: Vec<String> = store
        .list_request_logs(0, now + HOUR, Page::new(1000, 0))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.request_id)
        .collect();
    logs.sort();
    (usage, logs)
}

async fn expired_rows_go_recent_rows_and_rollups_stay(store: Store) {
    let now = now_millis();
    // Seven records three hours old (more than two batches), two recent; logs likewise
    // around their one-hour retention.
    let mut records: Vec<UsageRecord> = (0..7)
        .map(|i| usage(&format!("old-{i}"), now - 3 * HOUR + i))
        .collect();
    records.push(usage("new-0", now - 60_000));
    records.push(usage("new-1", now - HOUR));
    store.insert_usage_batch(&records).await.unwrap();
    let mut logs: Vec<RequestLog> = (0..5)
        .map(|i| log(&format!("old-{i}"), now - 2 * HOUR + i))
        .collect();
    logs.push(log("new-0", now - 1_000));
    store.insert_request_logs(&logs).await.unwrap();
    let window = UsageQuery::between(now - 4 * HOUR, now + HOUR);
    let before = store.usage_totals(&window).await.unwrap();
    assert_eq!(before.requests, 9);

    let swept = sweep(
        &store,
        &policy(),
        SystemTime::now(),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(
        swept,
        Swept {
            usage_records: 7,
            request_logs: 5
        }
    );
    let (usage_left, logs_left) = ids(&store, now).await;
    assert_eq!(usage_left, ["new-0", "new-1"]);
    assert_eq!(logs_left, ["new-0"]);
    // The rollups still hold every request.
    let after = store.usage_totals(&window).await.unwrap();
    assert_eq!(after.requests, 9);
    assert_eq!(after.input_tokens, before.input_tokens);
    assert_eq!(after.cost_micros, before.cost_micros);

    // Nothing more to do; keeping forever deletes nothing.
    let again = sweep(
        &store,
        &policy(),
        SystemTime::now(),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(again, Swept::default());
    let keep_all = RetentionPolicy {
        usage: None,
        request_logs: None,
        ..policy()
    };
    store
        .insert_usage_batch(&[usage("ancient", now - 1000 * HOUR)])
        .await
        .unwrap();
    let kept = sweep(
        &store,
        &keep_all,
        SystemTime::now(),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(kept, Swept::default());
    assert!(RetentionJob::start(store.clone(), keep_all).is_none());
}

async fn the_job_sweeps_at_start_and_stops_on_shutdown(store: Store) {
    let now = now_millis();
    let records: Vec<UsageRecord> = (0..10)
        .map(|i| usage(&format!("old-{i}"), now - 5 * HOUR + i))
        .chain([usage("new", now)])
        .collect();
    store.insert_usage_batch(&records).await.unwrap();
    store
        .insert_request_logs(&[log("old", now - 5 * HOUR), log("new", now)])
        .await
        .unwrap();
    let job = RetentionJob::start(store.clone(), policy()).unwrap();
    let mut left = ids(&store, now).await;
    for _ in 0..250 {
        if left.0.len() == 1 && left.1.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = ids(&store, now).await;
    }
    assert_eq!(left, (vec!["new".to_owned()], vec!["new".to_owned()]));
    // The next sweep is an hour away: shutdown does not wait for it.
    tokio::time::timeout(Duration::from_secs(5), job.shutdown())
        .await
        .expect("the job stops at once");
}
