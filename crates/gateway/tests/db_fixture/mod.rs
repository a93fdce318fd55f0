//! A fresh, migrated store per test: a temp SQLite file, or a PostgreSQL database with a
//! random name on the server at `SWITCHBOARD_TEST_DATABASE_URL`, dropped afterwards (also
//! when the test panics). Without that variable the PostgreSQL half says SKIPPED on stderr
//! (and fails when `SWITCHBOARD_TEST_REQUIRE_POSTGRES=1`).

#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use sqlx::Connection as _;
use store::{Store, StoreOptions};

const PG_URL_ENV: &str = "SWITCHBOARD_TEST_DATABASE_URL";
const REQUIRE_PG_ENV: &str = "SWITCHBOARD_TEST_REQUIRE_POSTGRES";

/// Each listed `async fn name(store: Store)` becomes `name::sqlite` and `name::postgres`.
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::db_fixture::run_sqlite(super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::db_fixture::run_postgres(stringify!($name), super::$name).await;
            }
        }
    )+};
}

pub(crate) use backend_tests;

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
            "SKIPPED gateway test {name}::postgres: {PG_URL_ENV} is not set"
        );
        return;
    };
    let db_name = format!("sb_gw_test_{}", uuid::Uuid::new_v4().simple());
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
