use serde_json::json;

use crate::both_engines;
use crate::support::{Engine, spawn_app};

both_engines!(who_may_mint_what, revoked_and_expired_tokens_stop_working, tokens_are_stored_only_as_hashes);

async fn who_may_mint_what(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    assert!(svc.starts_with("byok_svc_") && svc.len() == 9 + 64);
    let r = app
        .post(
            "/v1/tokens",
            &svc,
            json!({"role": "user", "owner": "user:alice", "manage_orgs": ["acme", "org:globex"], "expires_in": 3600}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["token"].as_str().unwrap().starts_with("byok_usr_"));
    assert_eq!(r.body["role"], "user");
    assert_eq!(r.body["owner"], "user:alice");
    assert_eq!(r.body["manage_orgs"], json!(["acme", "globex"]));
    assert!(r.body["expires_at"].is_string());
    for role in ["service", "admin"] {
        app.post("/v1/tokens", &svc, json!({"role": role})).await.assert_problem(403, "forbidden");
    }
    let admin2 = app.mint(json!({"role": "admin", "name": "ops"})).await;
    assert!(admin2.starts_with("byok_adm_"));
    assert_eq!(app.post("/v1/tokens", &admin2, json!({"role": "service"})).await.status, 201);
}

async fn revoked_and_expired_tokens_stop_working(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let r = app.post("/v1/tokens", &svc, json!({"role": "user", "owner": "user:dan"})).await;
    let (id, user) = (r.body["id"].as_str().unwrap().to_owned(), r.body["token"].as_str().unwrap().to_owned());
    assert_eq!(app.get("/v1/credentials", &user).await.status, 200);
    assert_eq!(app.delete(&format!("/v1/tokens/{id}"), &svc).await.status, 204);
    app.get("/v1/credentials", &user).await.assert_problem(401, "unauthorized");

    // A service may not revoke an admin's or another service's token.
    let other = app.post("/v1/tokens", &app.admin, json!({"role": "service"})).await;
    let other_id = other.body["id"].as_str().unwrap();
    app.delete(&format!("/v1/tokens/{other_id}"), &svc).await.assert_problem(404, "not_found");
    assert_eq!(app.get("/v1/credentials", other.body["token"].as_str().unwrap()).await.status, 200);

    let short = app.post("/v1/tokens", &svc, json!({"role": "user", "owner": "user:dan", "expires_in": 1})).await;
    let short = short.body["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/credentials", &short).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.get("/v1/credentials", &short).await.assert_problem(401, "unauthorized");
}

async fn tokens_are_stored_only_as_hashes(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let user = app.user_token("erin", &[]).await;
    let bytes = app.db().all_bytes().await;
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("user:erin"), "the search sees the token rows");
    for token in [&svc, &user, &app.admin] {
        let random_part = &token[9..];
        assert!(!text.contains(random_part), "a token is stored in plaintext");
    }
}

both_engines!(revocation_reaches_other_instances_quickly);

/// Tokens are cached per instance; a revocation on one instance must stop the token on
/// another within the cache's poll interval.
async fn revocation_reaches_other_instances_quickly(engine: Engine) {
    let db = crate::support::TestDb::fresh(engine).await;
    let admin = byok_crypto::generate_token("byok_adm_");
    let envs = [
        ("BYOK_MASTER_KEY", crate::support::TEST_KEY),
        ("DATABASE_URL", db.url.as_str()),
        ("BYOK_ADMIN_TOKEN", admin.as_str()),
    ];
    let a = crate::support::ServeProcess::start(&envs);
    let b = crate::support::ServeProcess::start(&envs);
    let client = reqwest::Client::new();
    let minted: serde_json::Value = client
        .post(format!("{}/v1/tokens", a.base))
        .bearer_auth(&admin)
        .json(&json!({"role": "user", "owner": "user:rev"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, user) = (minted["id"].as_str().unwrap(), minted["token"].as_str().unwrap());
    let list = |base: &str| client.get(format!("{base}/v1/credentials")).bearer_auth(user).send();
    for _ in 0..3 {
        assert_eq!(list(&b.base).await.unwrap().status(), 200, "b knows (and caches) the token");
    }
    let revoked = client.delete(format!("{}/v1/tokens/{id}", a.base)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(list(&a.base).await.unwrap().status(), 401, "the revoking instance refuses at once");
    let started = std::time::Instant::now();
    loop {
        if list(&b.base).await.unwrap().status() == 401 {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "b still accepts a revoked token after 2 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
