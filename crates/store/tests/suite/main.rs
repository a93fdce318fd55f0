//! The store test suite: every test runs against SQLite (a temp file) and PostgreSQL (a
//! fresh database at `SWITCHBOARD_TEST_DATABASE_URL`, dropped afterwards).
//!
//! Each `async fn name(store: Store)` listed in a module's `backend_tests!` becomes two
//! tests, `name::sqlite` and `name::postgres`.

#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

/// Expands each listed test function into a `sqlite` and a `postgres` test.
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::harness::run_sqlite(super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::harness::run_postgres(stringify!($name), super::$name).await;
            }
        }
    )+};
}

mod balances;
mod catalog;
mod connect;
mod harness;
mod keys;
mod secrets;
mod usage;
mod users;
