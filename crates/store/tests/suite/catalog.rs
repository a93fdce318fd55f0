//! Virtual models, combos and prices created at run time.

use serde_json::json;
use store::{ModelPrice, Store, VirtualKind};

backend_tests!(virtual_models_and_prices);

async fn virtual_models_and_prices(store: Store) {
    let def =
        json!({"targets": ["groq/llama-3.3-70b", "openai/gpt-4o-mini"], "strategy": "fallback"});
    let combo = store
        .put_virtual_model("fast", VirtualKind::Combo, &def)
        .await
        .unwrap();
    assert_eq!(
        (combo.kind, combo.definition.clone()),
        (VirtualKind::Combo, def.clone())
    );
    store
        .put_virtual_model(
            "smart",
            VirtualKind::Model,
            &json!({"target": "openai/gpt-4o"}),
        )
        .await
        .unwrap();
    // Replacing keeps created_at and may change the kind (one namespace).
    let replaced = store
        .put_virtual_model("fast", VirtualKind::Model, &json!({"target": "x/y"}))
        .await
        .unwrap();
    assert_eq!(replaced.created_at, combo.created_at);
    assert_eq!(replaced.kind, VirtualKind::Model);
    assert_eq!(store.list_virtual_models(None).await.unwrap().len(), 2);
    assert_eq!(
        store
            .list_virtual_models(Some(VirtualKind::Combo))
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store
            .get_virtual_model("smart")
            .await
            .unwrap()
            .unwrap()
            .definition["target"],
        "openai/gpt-4o"
    );
    assert!(store.delete_virtual_model("fast").await.unwrap());
    assert!(store.get_virtual_model("fast").await.unwrap().is_none());
    assert!(
        store
            .put_virtual_model(" padded", VirtualKind::Model, &def)
            .await
            .is_err()
    );

    let price = ModelPrice {
        provider: "openai".into(),
        model: "gpt-4o".into(),
        input_per_mtok: 2_500_000,
        output_per_mtok: 10_000_000,
        cache_read_per_mtok: 1_250_000,
        cache_write_per_mtok: 0,
        updated_at: 0,
    };
    let stored = store.put_price(&price).await.unwrap();
    assert!(stored.updated_at > 0);
    assert_eq!(
        ModelPrice {
            updated_at: 0,
            ..stored.clone()
        },
        price
    );
    let cheaper = ModelPrice {
        input_per_mtok: 2_000_000,
        ..price.clone()
    };
    store.put_price(&cheaper).await.unwrap();
    assert_eq!(
        store
            .get_price("openai", "gpt-4o")
            .await
            .unwrap()
            .unwrap()
            .input_per_mtok,
        2_000_000
    );
    assert_eq!(store.list_prices().await.unwrap().len(), 1);
    assert!(
        store
            .put_price(&ModelPrice {
                output_per_mtok: -1,
                ..price
            })
            .await
            .is_err()
    );
    assert!(store.delete_price("openai", "gpt-4o").await.unwrap());
    assert!(store.get_price("openai", "gpt-4o").await.unwrap().is_none());
}
