//! Connecting: URL forms, the embedded default, and errors that keep passwords out.

use store::{BackendKind, NewUser, Page, Store, StoreError, UserFilter};

#[tokio::test]
async fn open_default_creates_a_wal_database_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested").join("data");
    let store = Store::open_default(&data_dir).await.unwrap();
    assert_eq!(store.kind(), BackendKind::Sqlite);
    store.migrate().await.unwrap();
    store.create_user(&NewUser::member("x")).await.unwrap();
    assert!(data_dir.join("switchboard.db").exists());
    assert!(
        data_dir.join("switchboard.db-wal").exists(),
        "journal mode is WAL"
    );
    store.close().await;

    // Reopening by URL finds the same data.
    let url = format!("sqlite://{}", data_dir.join("switchboard.db").display());
    let again = Store::connect(&url).await.unwrap();
    again.migrate().await.unwrap();
    assert_eq!(again.count_users(&UserFilter::default()).await.unwrap(), 1);
    again.close().await;
}

#[tokio::test]
async fn in_memory_sqlite_is_one_database_across_the_pool() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let created = futures_util::future::join_all((0..10).map(|i| {
        let store = store.clone();
        async move { store.create_user(&NewUser::member(format!("u{i}"))).await }
    }))
    .await;
    assert!(created.iter().all(Result::is_ok));
    let listed = store
        .list_users(&UserFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 10);
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_echoing_them() {
    let err = Store::connect("mysql://admin:hunter2@db/prod")
        .await
        .unwrap_err();
    assert!(matches!(&err, StoreError::UnsupportedUrl { scheme } if scheme == "mysql"));
    assert!(!err.to_string().contains("hunter2"));
    assert!(!format!("{err:?}").contains("hunter2"));
    let store = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(format!("{store:?}"), "Store { backend: Sqlite }");
}
