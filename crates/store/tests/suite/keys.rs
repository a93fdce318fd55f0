//! API keys: create, find by hash, expiry, revocation, updates, last-used batching.

use store::{
    KeyFilter, KeyUpdate, Limits, NewApiKey, NewUser, Page, SecretBox, SecretKey, Store,
    StoreError, now_millis,
};

backend_tests!(key_lifecycle, key_listing_and_touch);

fn secret_box() -> SecretBox {
    SecretBox::new(&SecretKey::generate(), &SecretKey::generate()).unwrap()
}

async fn key_lifecycle(store: Store) {
    let user = store.create_user(&NewUser::member("owner")).await.unwrap();
    let secrets = secret_box();
    let generated = secrets.generate_api_key();
    let now = now_millis();
    let new = NewApiKey {
        user_id: user.id,
        name: "ci".into(),
        prefix: generated.prefix.clone(),
        hash: generated.hash,
        expires_at: Some(now + 3_600_000),
        allowed_models: vec!["gpt-4o*".into(), "groq/*".into()],
        limits: Limits {
            rpm: Some(10),
            ..Limits::default()
        },
    };
    let key = store.create_key(&new).await.unwrap();
    assert_eq!(key.prefix, generated.prefix);
    assert!(key.prefix.starts_with("sk-sb-"));
    assert_eq!(key.expires_at, Some(now + 3_600_000));
    assert_eq!(key.allowed_models, vec!["gpt-4o*", "groq/*"]);
    assert_eq!(key.limits.rpm, Some(10));
    assert!(key.is_active(now));
    assert!(!key.is_active(now + 3_600_000));

    // Lookup by the hash of the plaintext the client presents.
    let presented = secrets.key_hash(generated.plaintext.expose());
    assert_eq!(
        store.find_key_by_hash(&presented).await.unwrap().as_ref(),
        Some(&key)
    );
    assert_eq!(
        store
            .find_key_by_hash(&secrets.key_hash("sk-sb-wrong"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_key(key.id).await.unwrap().as_ref(), Some(&key));
    // The serialized form never carries the hash.
    let json = serde_json::to_value(&key).unwrap();
    assert!(json.get("hash").is_none());
    assert_eq!(json["prefix"], key.prefix.as_str());

    // Hashes are unique; keys need an existing user.
    assert!(matches!(
        store.create_key(&new).await,
        Err(StoreError::Conflict { .. })
    ));
    let orphan = NewApiKey {
        user_id: uuid::Uuid::now_v7(),
        hash: [7; 32],
        ..new.clone()
    };
    assert!(matches!(
        store.create_key(&orphan).await,
        Err(StoreError::NotFound { .. })
    ));

    // Update: drop the expiry, change models, keep limits.
    let update = KeyUpdate {
        expires_at: Some(None),
        allowed_models: Some(vec![]),
        ..KeyUpdate::default()
    };
    let updated = store.update_key(key.id, &update).await.unwrap();
    assert_eq!(updated.expires_at, None);
    assert!(updated.allowed_models.is_empty());
    assert_eq!(updated.limits.rpm, Some(10));
    assert_eq!(updated.name, "ci");
    let blank = KeyUpdate {
        name: Some(" ".into()),
        ..KeyUpdate::default()
    };
    assert!(matches!(
        store.update_key(key.id, &blank).await,
        Err(StoreError::Invalid { .. })
    ));

    // Revocation is one-way and keeps the first time.
    assert!(store.revoke_key(key.id, now).await.unwrap());
    assert!(!store.revoke_key(key.id, now + 5).await.unwrap());
    let revoked = store.get_key(key.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(now));
    assert!(!revoked.is_active(now));
    assert!(matches!(
        store.revoke_key(uuid::Uuid::now_v7(), now).await,
        Err(StoreError::NotFound { .. })
    ));

    // Deleting the user deletes their keys.
    store.delete_user(user.id).await.unwrap();
    assert_eq!(store.get_key(key.id).await.unwrap(), None);
}

async fn key_listing_and_touch(store: Store) {
    let alice = store.create_user(&NewUser::member("alice")).await.unwrap();
    let bob = store.create_user(&NewUser::member("bob")).await.unwrap();
    let now = now_millis();
    let mut keys = Vec::new();
    for (i, (user, expires_at)) in [
        (alice.id, None),
        (alice.id, Some(now - 1)), // already expired
        (alice.id, Some(now + 60_000)),
        (bob.id, None),
    ]
    .into_iter()
    .enumerate()
    {
        let new = NewApiKey {
            user_id: user,
            name: format!("k{i}"),
            prefix: format!("sk-sb-k{i}"),
            hash: [u8::try_from(i).unwrap(); 32],
            expires_at,
            allowed_models: vec![],
            limits: Limits::default(),
        };
        keys.push(store.create_key(&new).await.unwrap());
    }
    store.revoke_key(keys[2].id, now).await.unwrap();

    let of_alice = KeyFilter {
        user_id: Some(alice.id),
        include_revoked: true,
    };
    let listed = store.list_keys(&of_alice, Page::default()).await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["k0", "k1", "k2"]
    );
    let unrevoked = KeyFilter {
        user_id: Some(alice.id),
        include_revoked: false,
    };
    assert_eq!(
        store
            .list_keys(&unrevoked, Page::default())
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_keys(&KeyFilter::default(), Page::new(2, 1))
            .await
            .unwrap()
            .len(),
        2
    );

    // The snapshot loader sees only usable keys.
    let active: Vec<String> = store
        .list_active_keys(now)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(active, ["k0", "k3"]);

    // One statement for many keys; a later touch wins, an earlier one does not rewind.
    let ids: Vec<_> = keys.iter().map(|k| k.id).collect();
    assert_eq!(store.touch_keys(&ids, now + 10).await.unwrap(), 4);
    assert_eq!(store.touch_keys(&ids[..2], now + 5).await.unwrap(), 0);
    assert_eq!(store.touch_keys(&ids[..1], now + 20).await.unwrap(), 1);
    assert_eq!(store.touch_keys(&[], now).await.unwrap(), 0);
    let used: Vec<_> = futures_util::future::join_all(ids.iter().map(|id| store.get_key(*id)))
        .await
        .into_iter()
        .map(|k| k.unwrap().unwrap().last_used_at)
        .collect();
    assert_eq!(
        used,
        [
            Some(now + 20),
            Some(now + 10),
            Some(now + 10),
            Some(now + 10)
        ]
    );
}
