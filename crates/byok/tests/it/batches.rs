//! The store's write batches: a batch that fails leaves nothing of itself behind, not
//! even the units it took before failing, and the next batch works.

use std::collections::BTreeMap;

use byok_core::{AuditEvent, Owner, PeriodAnchor, SecretValue};
use byok_server::{AppState, NewCredential, new_credential};
use byok_store::AuditFilter;

use crate::support::{Engine, TEST_KEY, TestDb, open_state, test_config};

// A current-thread runtime: jobs sent before the test's task yields are all queued when
// the batch worker (a task on the same runtime) first runs, so they share one batch.
// SQLite's writer is a thread of its own, which could take the first job alone: its
// batches are tested directly, in `byok-store`'s `sqlite/writer_tests.rs`.
#[tokio::test]
async fn a_failed_batch_is_undone_whole_on_postgres() {
    a_failed_batch_is_undone_whole(Engine::Postgres).await;
}

async fn a_failed_batch_is_undone_whole(engine: Engine) {
    let db = TestDb::fresh(engine).await;
    let state = open_state(&test_config(&db.url, TEST_KEY)).await.expect("state");
    let owner: Owner = "user:alice".parse().unwrap();
    let provider = state.catalog.get("openai").unwrap().id.clone();
    let fields = BTreeMap::from([("api_key".to_owned(), SecretValue::new("sk-batch-test-0123456789abcdef".into()))]);
    let credential = new_credential(
        &state,
        NewCredential {
            owner: owner.clone(),
            provider: provider.clone(),
            label: byok_core::Label::parse("default").unwrap(),
            split: state.catalog.split_fields("openai", fields).unwrap(),
            monthly_limit: None,
            priority: 0,
        },
    );
    state.store.insert_credential(&credential).await.unwrap();

    let take = || async {
        let now = state.clock.now();
        let period = PeriodAnchor::default().period_start(now);
        let event = AuditEvent { action: "credential.resolve".into(), outcome: "ok".into(), ..AuditEvent::default() };
        state.store.take_unit(&owner, &provider, period, now, Some(event)).await
    };
    assert!(take().await.unwrap().is_some(), "the first unit is taken");
    let written = written_entries(&state).await;
    assert_eq!(written.len(), 1);

    // The same entry again breaks its batch (its chain and sequence number exist), and
    // the unit taken in that batch goes with it.
    let (taken, repeated) = tokio::join!(take(), state.store.append_audit(&written));
    assert!(repeated.is_err(), "a repeated entry is refused");
    assert!(taken.is_err(), "the unit shared the failed batch, so it is refused too");
    assert_eq!(usage(&state, &credential.id).await, 1, "the failed batch's unit is not counted");
    assert_eq!(written_entries(&state).await.len(), 1, "the failed batch wrote no entry");

    // The next batches work, on a clean transaction.
    assert!(take().await.unwrap().is_some());
    assert!(take().await.unwrap().is_some());
    assert_eq!(usage(&state, &credential.id).await, 3);
    assert_eq!(written_entries(&state).await.len(), 3);
}

async fn written_entries(state: &AppState) -> Vec<byok_core::AuditRecord> {
    let filter = AuditFilter { action: Some("credential.resolve".into()), limit: 100, ..AuditFilter::default() };
    state.store.list_audit(&filter).await.unwrap()
}

async fn usage(state: &AppState, id: &byok_core::CredentialId) -> i64 {
    state.store.get_credential(id).await.unwrap().expect("the credential").usage_total
}
