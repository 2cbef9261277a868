//! Invariant 4: an owner's credentials are reachable only by that owner's principals,
//! services and admins; a foreign id answers exactly like a missing one.

use serde_json::json;

use crate::both_engines;
use crate::support::{Engine, spawn_app};

both_engines!(
    foreign_ids_answer_like_missing_ones,
    users_act_only_for_themselves,
    manage_orgs_is_exact,
    platform_is_admin_only
);

async fn foreign_ids_answer_like_missing_ones(engine: Engine) {
    let app = spawn_app(engine).await;
    let alice = app.user_token("alice", &[]).await;
    let bob = app.user_token("bob", &[]).await;
    let id = app.create_openai(&alice, None, "sk-alice-key-aaaaaaaaaaaaaaaa").await;
    let missing = uuid::Uuid::now_v7().to_string();

    for target in [id.as_str(), missing.as_str()] {
        let path = format!("/v1/credentials/{target}");
        let get = app.get(&path, &bob).await;
        let patch = app.patch(&path, &bob, json!({"label": "mine now"})).await;
        let delete = app.delete(&path, &bob).await;
        for r in [&get, &patch, &delete] {
            r.assert_problem(404, "not_found");
        }
        // Byte-identical apart from the request id: nothing tells the two apart.
        assert_eq!(get.text, app.get(&format!("/v1/credentials/{missing}"), &bob).await.text);
    }
    let list = app.get("/v1/credentials", &bob).await;
    assert_eq!(list.body["items"], json!([]));
    app.get("/v1/credentials?owner=user:alice", &bob).await.assert_problem(403, "forbidden");

    // Alice's credential is untouched and still hers.
    let mine = app.get(&format!("/v1/credentials/{id}"), &alice).await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.body["label"], "default");
}

async fn users_act_only_for_themselves(engine: Engine) {
    let app = spawn_app(engine).await;
    let bob = app.user_token("bob", &[]).await;
    let r = app
        .post(
            "/v1/credentials",
            &bob,
            json!({"owner": "user:alice", "provider": "openai", "fields": {"api_key": "sk-bob-sneaky-aaaaaaaaaaaa"}}),
        )
        .await;
    r.assert_problem(403, "forbidden");
    let svc = app.service_token().await;
    let all = app.get("/v1/credentials?owner=user:alice", &svc).await;
    assert_eq!(all.body["items"], json!([]), "nothing was written for alice");
    // A user token's own owner is the default.
    let id = app.create_openai(&bob, None, "sk-bob-own-key-aaaaaaaaaaaa").await;
    assert_eq!(app.get(&format!("/v1/credentials/{id}"), &svc).await.body["owner"], "user:bob");
    // A user token may not resolve anyone's secrets or mint tokens.
    app.post("/v1/tokens", &bob, json!({"role": "user", "owner": "user:bob"})).await.assert_problem(403, "forbidden");
}

async fn manage_orgs_is_exact(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let alice = app.user_token("alice", &["acme"]).await;
    let acme = app.create_openai(&alice, Some("org:acme"), "sk-acme-key-aaaaaaaaaaaaaaaa").await;
    let r = app
        .post(
            "/v1/credentials",
            &alice,
            json!({"owner": "org:globex", "provider": "openai", "fields": {"api_key": "sk-globex-aaaaaaaaaaaaaaaa"}}),
        )
        .await;
    r.assert_problem(403, "forbidden");
    let globex = app.create_openai(&svc, Some("org:globex"), "sk-globex-key-aaaaaaaaaaaaa").await;

    assert_eq!(app.get(&format!("/v1/credentials/{acme}"), &alice).await.status, 200);
    app.get(&format!("/v1/credentials/{globex}"), &alice).await.assert_problem(404, "not_found");
    let listed = app.get("/v1/credentials", &alice).await;
    let ids: Vec<&str> = listed.body["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![acme.as_str()]);
    assert_eq!(app.get("/v1/credentials?owner=org:acme", &alice).await.status, 200);

    // A member without manage_orgs sees nothing of the org.
    let carol = app.user_token("carol", &[]).await;
    app.get(&format!("/v1/credentials/{acme}"), &carol).await.assert_problem(404, "not_found");
    app.get("/v1/credentials?owner=org:acme", &carol).await.assert_problem(403, "forbidden");
}

async fn platform_is_admin_only(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let platform = app.create_openai(&app.admin, Some("platform"), "sk-platform-key-aaaaaaaaaaaa").await;
    app.get(&format!("/v1/credentials/{platform}"), &svc).await.assert_problem(404, "not_found");
    let listed = app.get("/v1/credentials", &svc).await;
    assert_eq!(listed.body["items"], json!([]));
    let r = app
        .post(
            "/v1/credentials",
            &svc,
            json!({"owner": "platform", "provider": "openai", "fields": {"api_key": "sk-svc-platform-aaaaaaaaaa"}}),
        )
        .await;
    r.assert_problem(403, "forbidden");
    assert_eq!(app.get(&format!("/v1/credentials/{platform}"), &app.admin).await.status, 200);
}
