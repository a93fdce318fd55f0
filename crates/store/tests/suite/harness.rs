//! Per-test databases: a temp SQLite file, or a PostgreSQL database with a random name
//! created on the server at `SWITCHBOARD_TEST_DATABASE_URL` and dropped afterwards — also
//! when the test panics.
//!
//! Without that variable the PostgreSQL half is skipped, loudly: the notice is written
//! straight to the process's stderr so the test harness cannot swallow it. Set
//! `SWITCHBOARD_TEST_REQUIRE_POSTGRES=1` (CI does) to make a missing URL a failure.

use std::future::Future;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use sqlx::Connection as _;
use store::{Store, StoreOptions};

pub const PG_URL_ENV: &str = "SWITCHBOARD_TEST_DATABASE_URL";
pub const REQUIRE_PG_ENV: &str = "SWITCHBOARD_TEST_REQUIRE_POSTGRES";

/// Runs `test` against a fresh, migrated SQLite database in a temp directory.
pub async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("test.db"), &StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    test(store.clone()).await;
    store.close().await;
}

/// Runs `test` against a fresh, migrated PostgreSQL database, or reports the skip.
pub async fn run_postgres<F, Fut>(name: &str, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(base) = std::env::var(PG_URL_ENV).ok().filter(|v| !v.is_empty()) else {
        if std::env::var(REQUIRE_PG_ENV).is_ok_and(|v| v == "1") {
            panic!("{REQUIRE_PG_ENV}=1 but {PG_URL_ENV} is not set");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED store test {name}::postgres: {PG_URL_ENV} is not set (PostgreSQL half not run)"
        );
        return;
    };
    let db_name = format!("sb_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE \"{db_name}\""
    )))
    .execute(&mut admin)
    .await
    .unwrap();

    let outcome = AssertUnwindSafe(async {
        let store = Store::connect(&with_database(&base, &db_name))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let result = AssertUnwindSafe(test(store.clone())).catch_unwind().await;
        store.close().await;
        result
    })
    .catch_unwind()
    .await;

    let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{db_name}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    let _ = admin.close().await;
    match outcome {
        Ok(Ok(())) => dropped.map(drop).unwrap(),
        Ok(Err(panic)) | Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// `postgres://user@host:port/db?opts` with `db` replaced.
fn with_database(url: &str, db: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((main, query)) => (main, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = main.find("://").map_or(0, |i| i + 3);
    let base = match main[authority_start..].find('/') {
        Some(slash) => &main[..authority_start + slash],
        None => main,
    };
    format!("{base}/{db}{query}")
}

#[test]
fn database_names_are_swapped_in_urls() {
    assert_eq!(
        with_database("postgres://u@h:5432/test", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgresql://h", "x"), "postgresql://h/x");
}
