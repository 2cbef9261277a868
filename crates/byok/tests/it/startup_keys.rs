//! Invariants 1 and 5: envelopes are bound to their row, and the keyring is checked
//! against the database at start-up, before any request.

use byok::config::Layer;
use byok::startup::StartupError;
use serde_json::json;

use crate::both_engines;
use crate::support::{Engine, OTHER_KEY, TEST_KEY, TestDb, open_state, spawn_app, spawn_on, test_config};

both_engines!(
    wrong_key_is_refused_at_start,
    missing_key_id_is_refused,
    rotation_keyring_opens_old_and_seals_new,
    moved_ciphertext_does_not_open
);

async fn wrong_key_is_refused_at_start(engine: Engine) {
    let db = TestDb::fresh(engine).await;
    open_state(&test_config(&db.url, TEST_KEY)).await.expect("first start records the key check");
    let err = open_state(&test_config(&db.url, OTHER_KEY)).await.err().expect("a wrong key must not start");
    assert!(matches!(err, StartupError::WrongKey(ref id) if id == "k1"), "{err}");
    assert!(err.to_string().contains("not the key this database was sealed with"));
    assert_eq!(db.count("SELECT count(*) FROM key_checks").await, 1, "the wrong key recorded nothing");
    open_state(&test_config(&db.url, TEST_KEY)).await.expect("the right key still starts");
}

async fn missing_key_id_is_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    app.create_openai(&svc, Some("user:alice"), "sk-sealed-under-k1-aaaaaaaa").await;
    let db = app.stop().await;
    let only_new =
        Layer { master_keys: Some(format!("k2:{OTHER_KEY}")), database_url: Some(db.url.clone()), ..Layer::default() };
    let err = open_state(&byok::config::Config::from_layer(only_new).unwrap()).await.err().expect("must not start");
    assert!(matches!(err, StartupError::MissingKey(ref id) if id == "k1"), "{err}");
}

async fn rotation_keyring_opens_old_and_seals_new(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let old = app.create_openai(&svc, Some("user:alice"), "sk-sealed-under-k1-aaaaaaaa").await;
    let db = app.stop().await;
    let keys = Layer { master_keys: Some(format!("k2:{OTHER_KEY},k1:{TEST_KEY}")), ..Layer::default() };
    let app = spawn_on(db, keys).await;
    let svc = app.service_token().await;
    let new = app.create_openai(&svc, Some("user:bob"), "sk-sealed-under-k2-aaaaaaaa").await;
    // A field change opens the old envelope (under k1) and reseals it under k2.
    let r = app
        .patch(&format!("/v1/credentials/{old}"), &svc, json!({"fields": {"api_key": "sk-resealed-under-k2-aaaaa"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.db()
            .count(&format!("SELECT count(*) FROM credentials WHERE key_id = 'k2' AND id IN ('{old}', '{new}')"))
            .await,
        2
    );
}

async fn moved_ciphertext_does_not_open(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let alice = app.create_openai(&svc, Some("user:alice"), "sk-alice-secret-aaaaaaaaaaa").await;
    let bob = app.create_openai(&svc, Some("user:bob"), "sk-bob-secret-bbbbbbbbbbbbb").await;
    // The attacker with database access copies alice's envelope into bob's row.
    let moved = app
        .db()
        .execute(
            "UPDATE credentials SET sealed = (SELECT sealed FROM credentials WHERE id = $1) WHERE id = $2",
            &[&alice, &bob],
        )
        .await;
    assert_eq!(moved, 1);
    let r = app.patch(&format!("/v1/credentials/{bob}"), &svc, json!({"fields": {"organization": "org-1"}})).await;
    r.assert_problem(500, "internal");
    assert!(!r.text.contains("sk-alice"), "{}", r.text);
    // Alice's own row still opens.
    let ok = app.patch(&format!("/v1/credentials/{alice}"), &svc, json!({"fields": {"organization": "org-1"}})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}
