//! Minting and revoking virtual keys, and that they work on the proxy alone.

use serde_json::json;

use super::world;
use crate::both_engines;
use crate::support::Engine;

both_engines!(virtual_keys_are_minted_by_admins_and_services_only, virtual_keys_authenticate_only_on_the_proxy);

async fn virtual_keys_are_minted_by_admins_and_services_only(engine: Engine) {
    let w = world(engine).await;
    let r = w.app.post("/v1/tokens", &w.svc, json!({"role": "virtual", "owner": "org:acme", "providers": ["openai", "anthropic", "openai"], "monthly_limit": 10, "expires_in": 3600})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!((r.body["role"].clone(), r.body["owner"].clone()), (json!("virtual"), json!("org:acme")));
    assert_eq!(
        (r.body["providers"].clone(), r.body["monthly_limit"].clone()),
        (json!(["openai", "anthropic"]), json!(10))
    );
    let token = r.body["token"].as_str().unwrap();
    assert!(token.starts_with("byok_vk_") && token.len() == "byok_vk_".len() + 64);
    let r = w
        .app
        .post("/v1/tokens", &w.app.admin, json!({"role": "virtual", "owner": "user:alice", "providers": ["*"]}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["providers"], json!(["*"]));
    let id = r.body["id"].as_str().unwrap().to_owned();
    let view = w.app.get(&format!("/v1/tokens/{id}"), &w.svc).await;
    assert_eq!(view.status, 200, "{}", view.text);
    assert_eq!((view.body["providers"].clone(), view.body["usage"]["total"].clone()), (json!(["*"]), json!(0)));
    assert!(!view.text.contains("byok_vk_"), "the key itself is never shown again");

    let alice = w.app.user_token("alice", &[]).await;
    w.app
        .post("/v1/tokens", &alice, json!({"role": "virtual", "owner": "user:alice", "providers": ["*"]}))
        .await
        .assert_problem(403, "forbidden");
    for (body, code) in [
        (json!({"role": "virtual"}), "invalid_field"),
        // A virtual key names its providers: none given, an empty list, or `*` beside others.
        (json!({"role": "virtual", "owner": "user:alice"}), "invalid_field"),
        (json!({"role": "virtual", "owner": "user:alice", "providers": []}), "invalid_field"),
        (json!({"role": "virtual", "owner": "user:alice", "providers": ["*", "openai"]}), "invalid_field"),
        (json!({"role": "virtual", "owner": "platform"}), "invalid_field"),
        (
            json!({"role": "virtual", "owner": "user:alice", "providers": ["*"], "manage_orgs": ["acme"]}),
            "invalid_field",
        ),
        (json!({"role": "virtual", "owner": "user:alice", "providers": ["nope"]}), "unknown_provider"),
        (json!({"role": "virtual", "owner": "user:alice", "monthly_limit": -1}), "invalid_field"),
        (json!({"role": "user", "owner": "user:alice", "providers": ["openai"]}), "invalid_field"),
        (json!({"role": "user", "owner": "user:alice", "monthly_limit": 5}), "invalid_field"),
    ] {
        w.app.post("/v1/tokens", &w.svc, body.clone()).await.assert_problem(422, code);
    }
    // A service revokes virtual keys; a user cannot see them.
    w.app.get(&format!("/v1/tokens/{id}"), &alice).await.assert_problem(404, "not_found");
    assert_eq!(w.app.delete(&format!("/v1/tokens/{id}"), &w.svc).await.status, 204);
    assert!(w.app.get(&format!("/v1/tokens/{id}"), &w.svc).await.body["revoked_at"].is_string());
}

async fn virtual_keys_authenticate_only_on_the_proxy(engine: Engine) {
    let w = world(engine).await;
    let credential = w.credential("user:alice", "openai", None).await;
    let (key_id, vk) = w.virtual_key("user:alice", &[], None).await;
    for path in [
        "/v1/providers",
        "/v1/credentials",
        &format!("/v1/credentials/{credential}"),
        "/v1/usage",
        &format!("/v1/tokens/{key_id}"),
    ] {
        w.app.get(path, &vk).await.assert_problem(401, "unauthorized");
    }
    w.app
        .post("/v1/resolve", &vk, json!({"provider": "openai", "user": "alice"}))
        .await
        .assert_problem(401, "unauthorized");
    w.app
        .post("/v1/tokens", &vk, json!({"role": "virtual", "owner": "user:alice"}))
        .await
        .assert_problem(401, "unauthorized");
    w.app.delete(&format!("/v1/tokens/{key_id}"), &vk).await.assert_problem(401, "unauthorized");
    let r = w.app.send(w.app.client.get(w.proxy_url("openai", "/v1/models")).bearer_auth(&vk)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}
