//! Usage: batch inserts, rollups equal to the raw records, time series, retention, logs.

use std::collections::BTreeMap;

use store::{
    Granularity, Page, RequestLog, Store, UsageDimension, UsageGroup, UsagePoint, UsageQuery,
    UsageRecord, UsageTotals,
};
use uuid::Uuid;

backend_tests!(
    usage_batches_roll_up_exactly,
    usage_time_series,
    retention_and_request_logs,
    spend_since_sums_cost_per_key_and_user
);

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2026-01-01T00:00:00Z: a UTC day boundary.
const T0: i64 = 1_767_225_600_000;

fn record(i: u64, at: i64, keys: &[Uuid], users: &[Uuid]) -> UsageRecord {
    let pick = |n: u64| usize::try_from(i % n).unwrap();
    UsageRecord {
        created_at: at,
        request_id: format!("req-{i}"),
        // Every seventh request came in without a key (open local mode).
        key_id: (!i.is_multiple_of(7)).then(|| keys[pick(3)]),
        user_id: (!i.is_multiple_of(7)).then(|| users[pick(2)]),
        requested_model: ["fast", "smart", "gpt-4o-mini"][pick(3)].to_owned(),
        provider: (!i.is_multiple_of(11)).then(|| ["openai", "groq"][pick(2)].to_owned()),
        upstream_model: (!i.is_multiple_of(11)).then(|| "upstream".to_owned()),
        dialect_in: "openai_chat".to_owned(),
        dialect_out: (!i.is_multiple_of(11)).then(|| "openai_chat".to_owned()),
        input_tokens: 100 + i % 13,
        cache_read_tokens: i % 5,
        cache_write_tokens: i % 3,
        output_tokens: 20 + i % 11,
        reasoning_tokens: i % 2,
        cost_micros: i64::try_from(50 + i % 17).unwrap(),
        latency_ms: 200 + i % 50,
        ttft_ms: (i.is_multiple_of(2)).then_some(40),
        status: if i.is_multiple_of(10) { 502 } else { 200 },
        attempts: 1 + u32::try_from(i % 3).unwrap(),
        cache_hit: i.is_multiple_of(4),
    }
}

fn sum(records: &[&UsageRecord]) -> UsageTotals {
    let mut t = UsageTotals::default();
    for r in records {
        t.requests += 1;
        t.errors += u64::from(r.status >= 400);
        t.cache_hits += u64::from(r.cache_hit);
        t.input_tokens += r.input_tokens;
        t.cache_read_tokens += r.cache_read_tokens;
        t.cache_write_tokens += r.cache_write_tokens;
        t.output_tokens += r.output_tokens;
        t.reasoning_tokens += r.reasoning_tokens;
        t.cost_micros += r.cost_micros;
        t.latency_ms_sum += r.latency_ms;
    }
    t
}

fn expected_breakdown<K: Ord>(
    records: &[UsageRecord],
    key: impl Fn(&UsageRecord) -> K,
) -> BTreeMap<K, UsageTotals> {
    let mut groups: BTreeMap<K, Vec<&UsageRecord>> = BTreeMap::new();
    for r in records {
        groups.entry(key(r)).or_default().push(r);
    }
    groups.into_iter().map(|(k, rs)| (k, sum(&rs))).collect()
}

async fn usage_batches_roll_up_exactly(store: Store) {
    let keys = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    let users = [Uuid::now_v7(), Uuid::now_v7()];
    // 2,500 records over ~50 hours: more than one INSERT chunk, and rollup rows hit by
    // several batches so the upsert's add path runs.
    let records: Vec<UsageRecord> = (0..2_500_u64)
        .map(|i| record(i, T0 + i64::try_from(i).unwrap() * 71_000, &keys, &users))
        .collect();
    store.insert_usage_batch(&[]).await.unwrap();
    for batch in [&records[..700], &records[700..701], &records[701..]] {
        store.insert_usage_batch(batch).await.unwrap();
    }
    let all = UsageQuery::between(T0, T0 + 100 * HOUR);

    // Totals from the rollups equal the sums over the raw records, and the raw rows are all there.
    let everything: Vec<&UsageRecord> = records.iter().collect();
    assert_eq!(store.usage_totals(&all).await.unwrap(), sum(&everything));
    let mut raw = Vec::new();
    for page in 0.. {
        let rows = store
            .list_usage(&all, Page::new(1000, page * 1000))
            .await
            .unwrap();
        if rows.is_empty() {
            break;
        }
        raw.extend(rows);
    }
    assert_eq!(raw.len(), records.len());
    raw.sort_by_key(|r| r.created_at);
    assert_eq!(raw, records, "raw records round-trip field for field");

    // Breakdowns by every dimension.
    let by = |d| store.usage_breakdown(&all, d);
    let as_map = |points: Vec<UsagePoint>| -> BTreeMap<String, UsageTotals> {
        points
            .into_iter()
            .map(|p| (format!("{:?}", p.group.unwrap()), p.totals))
            .collect()
    };
    let keyed = expected_breakdown(&records, |r| format!("{:?}", UsageGroup::Key(r.key_id)));
    assert_eq!(as_map(by(UsageDimension::Key).await.unwrap()), keyed);
    let users_map = expected_breakdown(&records, |r| format!("{:?}", UsageGroup::User(r.user_id)));
    assert_eq!(as_map(by(UsageDimension::User).await.unwrap()), users_map);
    let models = expected_breakdown(&records, |r| {
        format!("{:?}", UsageGroup::Model(r.requested_model.clone()))
    });
    assert_eq!(as_map(by(UsageDimension::Model).await.unwrap()), models);
    let providers = by(UsageDimension::Provider).await.unwrap();
    // openai, groq, and "" for requests that reached no provider.
    assert_eq!(providers.len(), 3);
    let unrouted: Vec<&UsageRecord> = records.iter().filter(|r| r.provider.is_none()).collect();
    let unrouted_group = providers
        .iter()
        .find(|p| p.group == Some(UsageGroup::Provider(String::new())));
    assert_eq!(unrouted_group.map(|p| p.totals), Some(sum(&unrouted)));
    assert!(
        providers[0].totals.cost_micros >= providers[1].totals.cost_micros,
        "costliest first"
    );

    // Filters combine.
    let q = UsageQuery {
        key_id: Some(keys[1]),
        model: Some("smart".into()),
        ..all.clone()
    };
    let matching: Vec<&UsageRecord> = records
        .iter()
        .filter(|r| r.key_id == Some(keys[1]) && r.requested_model == "smart")
        .collect();
    assert!(!matching.is_empty());
    assert_eq!(store.usage_totals(&q).await.unwrap(), sum(&matching));
    let none = UsageQuery {
        provider: Some("nobody".into()),
        ..all
    };
    assert_eq!(
        store.usage_totals(&none).await.unwrap(),
        UsageTotals::default()
    );
}

async fn usage_time_series(store: Store) {
    let key = Uuid::now_v7();
    let at = |offset: i64, model: &str, cost: i64| UsageRecord {
        created_at: T0 + offset,
        request_id: format!("r{offset}"),
        key_id: Some(key),
        requested_model: model.to_owned(),
        provider: Some("openai".to_owned()),
        input_tokens: 10,
        output_tokens: 1,
        cost_micros: cost,
        status: 200,
        attempts: 1,
        ..UsageRecord::default()
    };
    let records = [
        at(0, "a", 1),
        at(HOUR - 1, "a", 2),
        at(HOUR, "b", 4),
        at(3 * HOUR + 5, "a", 8),
        at(DAY + 2 * HOUR, "a", 16),
        at(2 * DAY, "b", 32),
    ];
    store.insert_usage_batch(&records).await.unwrap();
    let q = UsageQuery::between(T0, T0 + 2 * DAY);

    let hourly = store
        .usage_series(&q, Granularity::Hour, None)
        .await
        .unwrap();
    let got: Vec<(i64, u64, i64)> = hourly
        .iter()
        .map(|p| {
            (
                p.bucket.unwrap() - T0,
                p.totals.requests,
                p.totals.cost_micros,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, 2, 3),
            (HOUR, 1, 4),
            (3 * HOUR, 1, 8),
            (DAY + 2 * HOUR, 1, 16)
        ]
    );

    let daily = store
        .usage_series(&q, Granularity::Day, None)
        .await
        .unwrap();
    let got: Vec<(i64, i64)> = daily
        .iter()
        .map(|p| (p.bucket.unwrap() - T0, p.totals.cost_micros))
        .collect();
    assert_eq!(
        got,
        [(0, 15), (DAY, 16)],
        "`to` is exclusive: the record at T0 + 2 days is out"
    );

    let per_model = store
        .usage_series(&q, Granularity::Day, Some(UsageDimension::Model))
        .await
        .unwrap();
    let got: Vec<(i64, UsageGroup, i64)> = per_model
        .into_iter()
        .map(|p| {
            (
                p.bucket.unwrap() - T0,
                p.group.unwrap(),
                p.totals.cost_micros,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, UsageGroup::Model("a".into()), 11),
            (0, UsageGroup::Model("b".into()), 4),
            (DAY, UsageGroup::Model("a".into()), 16)
        ]
    );

    // `from` inside an hour includes that whole hour (hour granularity).
    let mid = UsageQuery::between(T0 + 30 * 60_000, T0 + 2 * HOUR);
    assert_eq!(store.usage_totals(&mid).await.unwrap().cost_micros, 7);
    let per_key = store
        .usage_series(&mid, Granularity::Hour, Some(UsageDimension::Key))
        .await
        .unwrap();
    assert!(
        per_key
            .iter()
            .all(|p| p.group == Some(UsageGroup::Key(Some(key))))
    );
}

async fn retention_and_request_logs(store: Store) {
    let records: Vec<UsageRecord> = (0..10)
        .map(|i| UsageRecord {
            created_at: T0 + i * DAY,
            request_id: format!("r{i}"),
            requested_model: "m".into(),
            provider: Some("p".into()),
            cost_micros: 1,
            status: 200,
            ..UsageRecord::default()
        })
        .collect();
    store.insert_usage_batch(&records).await.unwrap();
    let all = UsageQuery::between(T0, T0 + 30 * DAY);
    assert_eq!(store.delete_usage_before(T0 + 4 * DAY).await.unwrap(), 4);
    assert_eq!(store.delete_usage_before(T0 + 4 * DAY).await.unwrap(), 0);
    let left = store.list_usage(&all, Page::default()).await.unwrap();
    assert_eq!(left.len(), 6);
    assert!(left.iter().all(|r| r.created_at >= T0 + 4 * DAY));
    // Rollups outlive raw records until deleted themselves.
    assert_eq!(store.usage_totals(&all).await.unwrap().requests, 10);
    assert_eq!(store.delete_rollups_before(T0 + 4 * DAY).await.unwrap(), 4);
    assert_eq!(store.usage_totals(&all).await.unwrap().requests, 6);

    let logs: Vec<RequestLog> = (0..5)
        .map(|i| RequestLog {
            request_id: format!("req-{i}"),
            created_at: T0 + i * HOUR,
            status: 200,
            request_body: Some(format!("{{\"i\":{i}}}")),
            response_body: (i % 2 == 0).then(|| "ok".to_owned()),
        })
        .collect();
    store.insert_request_logs(&logs).await.unwrap();
    store.insert_request_logs(&[]).await.unwrap();
    // A client may reuse a request id.
    store
        .insert_request_logs(&[RequestLog {
            status: 500,
            ..logs[1].clone()
        }])
        .await
        .unwrap();
    let again = store.get_request_logs("req-1").await.unwrap();
    assert_eq!(again.len(), 2);
    assert_eq!(again[0], logs[1]);
    let listed = store
        .list_request_logs(T0, T0 + DAY, Page::new(3, 0))
        .await
        .unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|l| l.request_id.as_str())
            .collect::<Vec<_>>(),
        ["req-4", "req-3", "req-2"]
    );
    assert_eq!(
        store
            .delete_request_logs_before(T0 + 2 * HOUR)
            .await
            .unwrap(),
        3
    );
    assert!(store.get_request_logs("req-0").await.unwrap().is_empty());
    assert_eq!(
        store
            .list_request_logs(T0, T0 + DAY, Page::default())
            .await
            .unwrap()
            .len(),
        3
    );
}

async fn spend_since_sums_cost_per_key_and_user(store: Store) {
    use store::usage::SpendBy;
    let keys = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    let users = [Uuid::now_v7(), Uuid::now_v7()];
    // Two days of records, every 37 minutes.
    let records: Vec<UsageRecord> = (0..78)
        .map(|i| {
            record(
                i,
                T0 + i64::try_from(i).unwrap() * 37 * 60_000,
                &keys,
                &users,
            )
        })
        .collect();
    store.insert_usage_batch(&records).await.unwrap();
    for since in [0, T0 + DAY, T0 + DAY + 5 * HOUR + 17] {
        let hour = since - since.rem_euclid(HOUR);
        let want = |id: &dyn Fn(&UsageRecord) -> Option<Uuid>| {
            let mut m: BTreeMap<Uuid, i64> = BTreeMap::new();
            for r in records.iter().filter(|r| r.created_at >= hour) {
                if let Some(id) = id(r) {
                    *m.entry(id).or_default() += r.cost_micros;
                }
            }
            m
        };
        let by_key: BTreeMap<Uuid, i64> = store
            .spend_since(SpendBy::Key, since)
            .await
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(by_key, want(&|r| r.key_id), "keys since {since}");
        let by_user: BTreeMap<Uuid, i64> = store
            .spend_since(SpendBy::User, since)
            .await
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(by_user, want(&|r| r.user_id), "users since {since}");
    }
    assert!(
        store
            .spend_since(SpendBy::Key, T0 + 3 * DAY)
            .await
            .unwrap()
            .is_empty()
    );
}
