//! Migrations and users: CRUD, uniqueness, partial updates, pagination and filters.

use store::{BudgetPeriod, Limits, NewUser, Page, Role, Store, StoreError, UserFilter, UserUpdate};

backend_tests!(
    migrations_apply_twice,
    user_crud,
    user_list_pagination_and_filters
);

async fn migrations_apply_twice(store: Store) {
    // The harness migrated once already.
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    let user = store
        .create_user(&NewUser::member("after migrations"))
        .await
        .unwrap();
    assert_eq!(
        store.get_user(user.id).await.unwrap().unwrap().name,
        "after migrations"
    );
}

async fn user_crud(store: Store) {
    let limits = Limits {
        rpm: Some(60),
        tpm: Some(100_000),
        max_concurrent: Some(4),
        budget_micros: Some(5_000_000),
        budget_period: Some(BudgetPeriod::Month),
    };
    let new = NewUser {
        name: "Ada".into(),
        email: Some("Ada@Example.com".into()),
        role: Role::Admin,
        limits: limits.clone(),
    };
    let ada = store.create_user(&new).await.unwrap();
    assert_eq!(
        (ada.balance_cash, ada.credit_limit, ada.disabled),
        (0, 0, false)
    );
    assert_eq!(ada.limits, limits);
    assert_eq!(ada.role, Role::Admin);
    assert_eq!(store.get_user(ada.id).await.unwrap().as_ref(), Some(&ada));
    let found = store.find_user_by_email("ada@example.COM").await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(ada.id));

    // Emails are unique regardless of case.
    let dup = NewUser {
        email: Some("ADA@example.com".into()),
        ..NewUser::member("other")
    };
    assert!(matches!(
        store.create_user(&dup).await,
        Err(StoreError::Conflict { .. })
    ));
    // Invalid input is refused before the database.
    let bad = NewUser {
        limits: Limits {
            budget_micros: Some(1),
            ..Limits::default()
        },
        ..NewUser::member("x")
    };
    assert!(matches!(
        store.create_user(&bad).await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        store.create_user(&NewUser::member("  ")).await,
        Err(StoreError::Invalid { .. })
    ));

    // Partial update: only the name changes.
    let renamed = store
        .update_user(
            ada.id,
            &UserUpdate {
                name: Some("Ada L.".into()),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Ada L.");
    assert_eq!(renamed.email, ada.email);
    assert_eq!(renamed.limits, limits);
    assert!(renamed.updated_at >= ada.updated_at);

    // Clearing the email, replacing limits, demoting, disabling.
    let update = UserUpdate {
        email: Some(None),
        role: Some(Role::Member),
        limits: Some(Limits {
            rpm: Some(1),
            ..Limits::default()
        }),
        disabled: Some(true),
        ..UserUpdate::default()
    };
    let changed = store.update_user(ada.id, &update).await.unwrap();
    assert_eq!(changed.email, None);
    assert_eq!(changed.role, Role::Member);
    assert_eq!(
        changed.limits,
        Limits {
            rpm: Some(1),
            ..Limits::default()
        }
    );
    assert!(changed.disabled);
    assert_eq!(changed.name, "Ada L.");

    // The freed email can be taken again.
    store
        .create_user(&NewUser {
            email: Some("ada@example.com".into()),
            ..NewUser::member("Ada 2")
        })
        .await
        .unwrap();

    let missing = uuid::Uuid::now_v7();
    assert!(matches!(
        store.update_user(missing, &UserUpdate::default()).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.delete_user(ada.id).await.unwrap());
    assert!(!store.delete_user(ada.id).await.unwrap());
    assert_eq!(store.get_user(ada.id).await.unwrap(), None);
}

async fn user_list_pagination_and_filters(store: Store) {
    let mut ids = Vec::new();
    for i in 0..25 {
        let new = NewUser {
            name: format!("user-{i:02}"),
            email: Some(format!(
                "u{i}@{}",
                if i % 3 == 0 { "corp.io" } else { "example.com" }
            )),
            role: if i % 5 == 0 {
                Role::Admin
            } else {
                Role::Member
            },
            limits: Limits::default(),
        };
        ids.push(store.create_user(&new).await.unwrap().id);
    }
    store
        .create_user(&NewUser::member("100%_real"))
        .await
        .unwrap();
    store
        .update_user(
            ids[1],
            &UserUpdate {
                disabled: Some(true),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();

    let all = UserFilter {
        include_disabled: true,
        ..UserFilter::default()
    };
    assert_eq!(store.count_users(&all).await.unwrap(), 26);
    // Pages are stable, in creation order, and cover everything exactly once.
    let mut seen = Vec::new();
    for page in 0..3 {
        let batch = store
            .list_users(&all, Page::new(10, page * 10))
            .await
            .unwrap();
        assert_eq!(batch.len(), if page < 2 { 10 } else { 6 });
        seen.extend(batch.into_iter().map(|u| u.id));
    }
    assert_eq!(&seen[..25], &ids[..]);

    // Disabled users are hidden unless asked for.
    assert_eq!(store.count_users(&UserFilter::default()).await.unwrap(), 25);

    // Case-insensitive substring on name; role; email.
    let name = UserFilter {
        name_contains: Some("USER-1".into()),
        ..all.clone()
    };
    let names: Vec<String> = store
        .list_users(&name, Page::default())
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names.len(), 10);
    assert!(names.iter().all(|n| n.starts_with("user-1")));
    let admins = UserFilter {
        role: Some(Role::Admin),
        ..all.clone()
    };
    assert_eq!(store.count_users(&admins).await.unwrap(), 5);
    let corp_admins = UserFilter {
        email_contains: Some("CORP".into()),
        role: Some(Role::Admin),
        ..all.clone()
    };
    // i in 0..25 with i % 3 == 0 and i % 5 == 0: 0 and 15.
    assert_eq!(store.count_users(&corp_admins).await.unwrap(), 2);

    // LIKE wildcards in the needle are literal.
    let literal = UserFilter {
        name_contains: Some("%_".into()),
        ..all.clone()
    };
    let hits = store.list_users(&literal, Page::default()).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].name, "100%_real");
    let underscore = UserFilter {
        name_contains: Some("r_".into()),
        ..all
    };
    assert_eq!(store.count_users(&underscore).await.unwrap(), 0);
}
