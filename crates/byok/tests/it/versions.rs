//! Secret versions and rollback.

use serde_json::json;

use crate::both_engines;
use crate::support::{Engine, spawn_app};

both_engines!(versions_and_rollback);

async fn versions_and_rollback(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let id = app.create_openai(&svc, Some("user:alice"), "sk-version-one-aaaaaaaa1111").await;
    let path = format!("/v1/credentials/{id}");
    app.patch(&path, &svc, json!({"fields": {"api_key": "sk-version-two-aaaaaaaa2222"}})).await;
    app.patch(&path, &svc, json!({"fields": {"api_key": "sk-version-three-aaaaaa3333"}})).await;

    let versions = app.get(&format!("{path}/versions"), &svc).await;
    assert_eq!(versions.status, 200, "{}", versions.text);
    let list = versions.body.as_array().unwrap();
    let numbers: Vec<i64> = list.iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [3, 2, 1]);
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[2]["secret_hints"]["api_key"], "sk-…1111");
    assert!(!versions.text.contains("sk-version"), "metadata only");

    let r = app.post(&format!("{path}/rollback"), &svc, json!({"version": 1})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["version"], 4);
    assert_eq!(r.body["secret_hints"]["api_key"], "sk-…1111");
    let resolved = app.post("/v1/resolve", &svc, json!({"provider": "openai", "user": "alice"})).await;
    assert_eq!(resolved.body["fields"]["api_key"], "sk-version-one-aaaaaaaa1111", "the old secret is current again");

    app.post(&format!("{path}/rollback"), &svc, json!({"version": 4})).await.assert_problem(422, "invalid_field");
    app.post(&format!("{path}/rollback"), &svc, json!({"version": 99})).await.assert_problem(422, "invalid_field");
    let bob = app.user_token("bob", &[]).await;
    app.post(&format!("{path}/rollback"), &bob, json!({"version": 1})).await.assert_problem(404, "not_found");
    app.get(&format!("{path}/versions"), &bob).await.assert_problem(404, "not_found");

    let audit = app.get(&format!("/v1/audit?credential={id}&action=credential.rollback"), &app.admin).await;
    assert_eq!(audit.body["items"][0]["detail"], "version 1 restored as version 4");

    // Ten earlier versions are kept, older ones dropped.
    for i in 0..12 {
        app.patch(&path, &svc, json!({"fields": {"api_key": format!("sk-churn-key-aaaaaaaaaa{i:04}")}})).await;
    }
    let kept = app.get(&format!("{path}/versions"), &svc).await;
    let numbers: Vec<i64> = kept.body.as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, (6..=16).rev().collect::<Vec<_>>());
}
