//! Providers and credentials: encrypted at rest, decryptable, and re-encrypted on rotation.

use store::{KeySources, Secret, SecretBox, SecretKey, Store, StoreError, rotate_key_file};

backend_tests!(
    credentials_encrypted_at_rest,
    key_rotation_reencrypts,
    key_file_rotation
);

const PLAINTEXT: &str = "sk-live-UPSTREAM-PLAINTEXT-0123456789";

fn secret_box() -> SecretBox {
    SecretBox::new(&SecretKey::generate(), &SecretKey::generate()).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn credentials_encrypted_at_rest(store: Store) {
    let secrets = secret_box();
    let config =
        serde_json::json!({"base_url": "https://api.example.com/v1", "wire_format": "openai"});
    let provider = store.put_provider("example", &config).await.unwrap();
    assert_eq!(provider.config, config);
    let replaced = store
        .put_provider("example", &serde_json::json!({"base_url": "x"}))
        .await
        .unwrap();
    assert_eq!(replaced.created_at, provider.created_at);
    assert_eq!(store.list_providers().await.unwrap().len(), 1);
    assert!(matches!(
        store.put_provider("bad id!", &config).await,
        Err(StoreError::Invalid { .. })
    ));

    let a = store
        .add_credential(
            &secrets,
            "example",
            "primary",
            &Secret::new(PLAINTEXT.to_owned()),
        )
        .await
        .unwrap();
    let b = store
        .add_credential(
            &secrets,
            "example",
            "backup",
            &Secret::new(PLAINTEXT.to_owned()),
        )
        .await
        .unwrap();
    // A config-file provider can have stored credentials too.
    store
        .add_credential(&secrets, "groq", "team", &Secret::new("gsk-1".to_owned()))
        .await
        .unwrap();

    // What sits in the database is ciphertext: no plaintext, not even a piece of it.
    let sealed_a = store.sealed_credential(a.id).await.unwrap();
    let sealed_b = store.sealed_credential(b.id).await.unwrap();
    assert_eq!(sealed_a.nonce.len(), 12);
    assert_eq!(sealed_a.ciphertext.len(), PLAINTEXT.len() + 16);
    assert!(!contains(&sealed_a.ciphertext, PLAINTEXT.as_bytes()));
    assert!(!contains(&sealed_a.ciphertext, b"UPSTREAM"));
    // Same plaintext, different nonce and ciphertext.
    assert_ne!(sealed_a.nonce, sealed_b.nonce);
    assert_ne!(sealed_a.ciphertext, sealed_b.ciphertext);

    // It decrypts with the right key only.
    assert_eq!(
        store
            .reveal_credential(&secrets, a.id)
            .await
            .unwrap()
            .expose(),
        PLAINTEXT
    );
    assert!(
        matches!(store.reveal_credential(&secret_box(), a.id).await, Err(StoreError::Decrypt(id)) if id == a.id)
    );
    let listed = store.list_credentials(Some("example")).await.unwrap();
    assert_eq!(listed, vec![a.clone(), b.clone()]);
    assert!(!serde_json::to_string(&listed).unwrap().contains(PLAINTEXT));
    let loaded = store.load_credentials(&secrets, None).await.unwrap();
    assert_eq!(loaded.len(), 3);
    assert!(format!("{loaded:?}").contains("*****") && !format!("{loaded:?}").contains(PLAINTEXT));

    assert!(store.delete_credential(b.id).await.unwrap());
    assert!(!store.delete_credential(b.id).await.unwrap());
    // Deleting a provider deletes its credentials, not other providers'.
    assert!(store.delete_provider("example").await.unwrap());
    assert!(
        store
            .list_credentials(Some("example"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.list_credentials(None).await.unwrap().len(), 1);
    assert!(store.get_provider("example").await.unwrap().is_none());
}

async fn key_rotation_reencrypts(store: Store) {
    let old = secret_box();
    let mut ids = Vec::new();
    for i in 0..3 {
        let secret = Secret::new(format!("{PLAINTEXT}-{i}"));
        ids.push(
            store
                .add_credential(&old, "p", &format!("c{i}"), &secret)
                .await
                .unwrap()
                .id,
        );
    }
    let before = store.sealed_credential(ids[0]).await.unwrap();
    let api_key_hash = old.key_hash("sk-sb-some-key");

    // A wrong "old" key fails the whole rotation and changes nothing.
    let stranger = secret_box();
    assert!(matches!(
        store.rotate_secret_key(&stranger, &stranger).await,
        Err(StoreError::Decrypt(_))
    ));
    assert_eq!(store.sealed_credential(ids[0]).await.unwrap(), before);

    let new = old.with_encryption_key(&SecretKey::generate());
    assert_eq!(store.rotate_secret_key(&old, &new).await.unwrap(), 3);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            store.reveal_credential(&new, *id).await.unwrap().expose(),
            &format!("{PLAINTEXT}-{i}")
        );
        assert!(matches!(
            store.reveal_credential(&old, *id).await,
            Err(StoreError::Decrypt(_))
        ));
    }
    let after = store.sealed_credential(ids[0]).await.unwrap();
    assert_ne!(after.ciphertext, before.ciphertext);
    assert_ne!(after.nonce, before.nonce);
    // API key hashes do not depend on the encryption key.
    assert_eq!(new.key_hash("sk-sb-some-key"), api_key_hash);
}

async fn key_file_rotation(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let sources = KeySources::key_file(dir.path());
    let (current, _) = SecretBox::load(&sources).unwrap();
    let id = store
        .add_credential(&current, "p", "c", &Secret::new(PLAINTEXT.to_owned()))
        .await
        .unwrap()
        .id;
    let file_before = std::fs::read_to_string(&sources.key_file).unwrap();

    let (rotated, count) = rotate_key_file(&store, &sources).await.unwrap();
    assert_eq!(count, 1);
    let file_after = std::fs::read_to_string(&sources.key_file).unwrap();
    assert_ne!(file_before, file_after);
    assert!(!dir.path().join("secret.key.next").exists());
    // Restarting picks up the new key; it decrypts, the old one does not; key hashes hold.
    let (reloaded, _) = SecretBox::load(&sources).unwrap();
    assert_eq!(
        store
            .reveal_credential(&reloaded, id)
            .await
            .unwrap()
            .expose(),
        PLAINTEXT
    );
    assert_eq!(
        store
            .reveal_credential(&rotated, id)
            .await
            .unwrap()
            .expose(),
        PLAINTEXT
    );
    assert!(store.reveal_credential(&current, id).await.is_err());
    assert_eq!(reloaded.key_hash("sk-sb-k"), current.key_hash("sk-sb-k"));
    // The hash key line is unchanged.
    let hash_line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("hash_key"))
            .map(str::to_owned)
    };
    assert_eq!(hash_line(&file_before), hash_line(&file_after));
}
