//! Balances: every operation audited, and concurrent charges never overdraw.

use std::collections::HashSet;

use store::{Audit, Balance, LedgerKind, NewUser, Page, Store, StoreError};

backend_tests!(
    ledger_audit_trail,
    concurrent_charges_never_overdraw,
    billed_users_are_those_with_a_ledger
);

async fn ledger_audit_trail(store: Store) {
    let user = store
        .create_user(&NewUser::member("payer"))
        .await
        .unwrap()
        .id;
    let admin = Audit {
        actor: Some("admin:root".into()),
        note: Some("top-up".into()),
        request_id: None,
    };

    let b = store.deposit(user, 1_000, &admin).await.unwrap();
    assert_eq!(
        b,
        Balance {
            cash: 1_000,
            credit_limit: 0
        }
    );
    assert_eq!(
        store
            .withdraw(user, 300, &Audit::by("admin"))
            .await
            .unwrap()
            .cash,
        700
    );
    // Withdrawals take cash only, never credit.
    store
        .set_credit_limit(user, 500, &Audit::by("admin"))
        .await
        .unwrap();
    assert!(matches!(
        store.withdraw(user, 800, &Audit::by("admin")).await,
        Err(StoreError::InsufficientFunds { requested: 800, .. })
    ));
    // A charge may dip into credit, up to cash + credit.
    let charge = Audit {
        actor: Some("gateway".into()),
        request_id: Some("req-1".into()),
        note: None,
    };
    let b = store.charge(user, 1_000, &charge).await.unwrap();
    assert_eq!(
        b,
        Balance {
            cash: -300,
            credit_limit: 500
        }
    );
    assert_eq!(b.available(), 200);
    assert!(matches!(
        store.charge(user, 201, &charge).await,
        Err(StoreError::InsufficientFunds { .. })
    ));
    // Settling what a call already cost applies even past the credit limit.
    assert_eq!(store.settle(user, 400, &charge).await.unwrap().cash, -700);
    assert_eq!(store.refund(user, 100, &charge).await.unwrap().cash, -600);
    assert_eq!(
        store.balance(user).await.unwrap(),
        Balance {
            cash: -600,
            credit_limit: 500
        }
    );
    assert_eq!(
        store.get_user(user).await.unwrap().unwrap().balance_cash,
        -600
    );

    // Refused operations left no trace; the rest are in the ledger, newest first.
    let ledger = store.list_ledger(user, Page::default()).await.unwrap();
    let got: Vec<(LedgerKind, i64, i64)> = ledger
        .iter()
        .map(|e| (e.kind, e.amount, e.balance_after))
        .collect();
    assert_eq!(
        got,
        [
            (LedgerKind::Refund, 100, -600),
            (LedgerKind::Charge, -400, -700),
            (LedgerKind::Charge, -1_000, -300),
            (LedgerKind::CreditLimit, 500, 700),
            (LedgerKind::Withdraw, -300, 700),
            (LedgerKind::Deposit, 1_000, 1_000),
        ]
    );
    let cash_moves: i64 = ledger
        .iter()
        .filter(|e| e.kind != LedgerKind::CreditLimit)
        .map(|e| e.amount)
        .sum();
    assert_eq!(cash_moves, -600);
    assert_eq!(ledger[5].actor.as_deref(), Some("admin:root"));
    assert_eq!(ledger[5].note.as_deref(), Some("top-up"));
    assert_eq!(ledger[2].request_id.as_deref(), Some("req-1"));
    assert_eq!(ledger[2].credit_limit_after, 500);
    assert!(ledger.iter().all(|e| e.user_id == user));
    assert_eq!(
        store.list_ledger(user, Page::new(2, 4)).await.unwrap(),
        ledger[4..]
    );

    // Bad input and unknown users.
    assert!(matches!(
        store.deposit(user, 0, &admin).await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        store.charge(user, -5, &admin).await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        store.set_credit_limit(user, -1, &admin).await,
        Err(StoreError::Invalid { .. })
    ));
    let ghost = uuid::Uuid::now_v7();
    assert!(matches!(
        store.deposit(ghost, 1, &admin).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.charge(ghost, 1, &admin).await,
        Err(StoreError::NotFound { .. })
    ));

    // The audit trail outlives the user.
    store.delete_user(user).await.unwrap();
    assert_eq!(
        store
            .list_ledger(user, Page::default())
            .await
            .unwrap()
            .len(),
        6
    );
}

async fn concurrent_charges_never_overdraw(store: Store) {
    let user = store
        .create_user(&NewUser::member("contended"))
        .await
        .unwrap()
        .id;
    store
        .deposit(user, 1_000, &Audit::by("test"))
        .await
        .unwrap();
    store
        .set_credit_limit(user, 200, &Audit::by("test"))
        .await
        .unwrap();
    const ALLOWED: i64 = 1_200;

    // 50 charges of 20–40 at once: about 1,500 asked for, at most 1,200 allowed.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50_i64 {
        let store = store.clone();
        let amount = 20 + (i % 5) * 5;
        let audit = Audit {
            request_id: Some(format!("req-{i}")),
            ..Audit::by("gateway")
        };
        tasks.spawn(async move {
            (
                amount,
                audit.request_id.clone(),
                store.charge(user, amount, &audit).await,
            )
        });
    }
    let (mut charged, mut succeeded, mut refused) = (0, HashSet::new(), Vec::new());
    while let Some(joined) = tasks.join_next().await {
        let (amount, request_id, result) = joined.unwrap();
        match result {
            Ok(balance) => {
                assert!(balance.available() >= 0, "{balance:?}");
                charged += amount;
                succeeded.insert(request_id.unwrap());
            }
            Err(StoreError::InsufficientFunds { requested, .. }) => refused.push(requested),
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert!(charged <= ALLOWED, "charged {charged} of {ALLOWED}");
    assert!(!refused.is_empty(), "the test must actually contend");
    let balance = store.balance(user).await.unwrap();
    assert_eq!(balance.cash, 1_000 - charged);
    // Balances only went down, so every refused charge exceeds what is left now.
    assert!(
        refused.iter().all(|&amount| amount > balance.available()),
        "{refused:?} vs {balance:?}"
    );

    // The ledger matches the successful charges one for one.
    let ledger = store.list_ledger(user, Page::new(1000, 0)).await.unwrap();
    let charges: Vec<_> = ledger
        .iter()
        .filter(|e| e.kind == LedgerKind::Charge)
        .collect();
    assert_eq!(charges.len(), succeeded.len());
    assert_eq!(charges.iter().map(|e| -e.amount).sum::<i64>(), charged);
    let ids: HashSet<String> = charges
        .iter()
        .filter_map(|e| e.request_id.clone())
        .collect();
    assert_eq!(ids, succeeded);
    // Each row's balance_after is consistent with the order the database applied them.
    let mut ordered = charges.clone();
    ordered.sort_by_key(|e| std::cmp::Reverse(e.balance_after));
    let mut expected = 1_000;
    for entry in ordered {
        expected += entry.amount;
        assert_eq!(entry.balance_after, expected);
    }
}

async fn billed_users_are_those_with_a_ledger(store: Store) {
    let untouched = store
        .create_user(&NewUser::member("untouched"))
        .await
        .unwrap()
        .id;
    let payer = store
        .create_user(&NewUser::member("payer"))
        .await
        .unwrap()
        .id;
    let on_credit = store
        .create_user(&NewUser::member("on-credit"))
        .await
        .unwrap()
        .id;
    assert!(store.billed_balances().await.unwrap().is_empty());
    assert_eq!(store.billed_balance(payer).await.unwrap(), None);

    store
        .deposit(payer, 700, &Audit::by("admin"))
        .await
        .unwrap();
    store
        .set_credit_limit(on_credit, 300, &Audit::by("admin"))
        .await
        .unwrap();
    store
        .settle(on_credit, 100, &Audit::by("gateway"))
        .await
        .unwrap();
    let mut billed = store.billed_balances().await.unwrap();
    billed.sort_by_key(|(id, _)| *id);
    let mut want = vec![
        (
            payer,
            Balance {
                cash: 700,
                credit_limit: 0,
            },
        ),
        (
            on_credit,
            Balance {
                cash: -100,
                credit_limit: 300,
            },
        ),
    ];
    want.sort_by_key(|(id, _)| *id);
    assert_eq!(billed, want);
    assert_eq!(
        store
            .billed_balance(on_credit)
            .await
            .unwrap()
            .map(|b| b.available()),
        Some(200)
    );
    assert_eq!(store.billed_balance(untouched).await.unwrap(), None);
}
