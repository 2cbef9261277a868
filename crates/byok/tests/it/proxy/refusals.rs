//! byok's own refusals in each provider's error shape and status, so SDKs raise their
//! usual error types; byok's `code` is always inside.

use std::time::Duration;

use serde_json::{Value, json};

use super::{World, world};
use crate::both_engines;
use crate::support::{Engine, Resp};

both_engines!(refusals_speak_each_providers_dialect, quotas_refuse_with_rate_limit_errors, the_owner_pays_or_nobody);

fn openai_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.body["error"]["code"], code, "{}", r.text);
    assert!(r.body["error"]["message"].is_string() && r.body["error"]["type"].is_string(), "{}", r.text);
}

async fn get(w: &World, provider: &str, path: &str, key: Option<&str>) -> Resp {
    let mut req = w.app.client.get(w.proxy_url(provider, path));
    if let Some(key) = key {
        req = req.bearer_auth(key).header("x-api-key", key);
    }
    w.app.send(req).await
}

async fn refusals_speak_each_providers_dialect(engine: Engine) {
    let w = world(engine).await;
    w.credential("user:alice", "openai", None).await;
    let (key_id, vk) = w.virtual_key("user:alice", &["openai"], None).await;

    // No key, or one byok does not know: each provider's authentication error.
    openai_error(&get(&w, "openai", "/v1/models", None).await, 401, "invalid_api_key");
    openai_error(
        &get(
            &w,
            "openai",
            "/v1/models",
            Some("byok_vk_0000000000000000000000000000000000000000000000000000000000000000"),
        )
        .await,
        401,
        "invalid_api_key",
    );
    openai_error(&get(&w, "openai", "/v1/models", Some("sk-proj-not-a-byok-key-at-all")).await, 401, "invalid_api_key");
    let r = get(&w, "anthropic", "/v1/models", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"type": "error", "error": {"type": "authentication_error", "message": r.body["error"]["message"], "code": "invalid_api_key"}})
    );
    let r = get(&w, "gemini", "/v1beta/models", None).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone(), r.body["error"]["status"].clone()),
        (401, json!(401), json!("UNAUTHENTICATED"))
    );
    assert_eq!(r.body["error"]["details"][0]["reason"], "invalid_api_key");
    let r = get(&w, "stability", "/v1/user/account", None).await;
    assert_eq!((r.status, r.body["name"].clone()), (401, json!("invalid_api_key")), "Stability's shape: {}", r.text);
    assert!(r.body["id"].is_string() && r.body["errors"][0].is_string(), "{}", r.text);
    let r = get(&w, "runway", "/v1/tasks/t1", None).await;
    assert_eq!((r.status, r.body["code"].clone()), (401, json!("invalid_api_key")), "Runway's shape: {}", r.text);
    assert!(r.body["error"].is_string(), "{}", r.text);

    // A key for another provider: OpenAI's PermissionDeniedError; Anthropic's shape there.
    let r = get(&w, "anthropic", "/v1/models", Some(&vk)).await;
    assert_eq!(
        (r.status, r.body["error"]["type"].clone(), r.body["error"]["code"].clone()),
        (403, json!("permission_error"), json!("provider_not_allowed"))
    );

    // Unknown providers and other principals.
    get(&w, "nope", "/v1/models", Some(&vk)).await.assert_problem(404, "unknown_provider");
    openai_error(&get(&w, "openai", "/v1/models", Some(&w.app.admin)).await, 403, "forbidden");
    let alice = w.app.user_token("alice", &[]).await;
    openai_error(&get(&w, "openai", "/v1/models", Some(&alice)).await, 403, "forbidden");

    // A cloud's own API beyond what a product sends (AWS STS here) is out of reach.
    let (_, aws_vk) = w.virtual_key("user:alice", &["aws"], None).await;
    get(&w, "aws", "/", Some(&aws_vk)).await.assert_problem(403, "path_not_allowed");

    // Revoked and expired keys stop working at once.
    assert_eq!(get(&w, "openai", "/v1/models", Some(&vk)).await.status, 200);
    assert_eq!(w.app.delete(&format!("/v1/tokens/{key_id}"), &w.svc).await.status, 204);
    openai_error(&get(&w, "openai", "/v1/models", Some(&vk)).await, 401, "invalid_api_key");
    let r = w
        .app
        .post(
            "/v1/tokens",
            &w.svc,
            json!({"role": "virtual", "owner": "user:alice", "providers": ["*"], "expires_in": 1}),
        )
        .await;
    let short = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(get(&w, "openai", "/v1/models", Some(&short)).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    openai_error(&get(&w, "openai", "/v1/models", Some(&short)).await, 401, "invalid_api_key");
}

async fn quotas_refuse_with_rate_limit_errors(engine: Engine) {
    let w = world(engine).await;
    let credential = w.credential("user:alice", "openai", Some(2)).await;
    let (limited_id, limited) = w.virtual_key("user:alice", &[], Some(1)).await;
    let (_, open) = w.virtual_key("user:alice", &[], None).await;

    assert_eq!(get(&w, "openai", "/v1/models", Some(&limited)).await.status, 200);
    openai_error(&get(&w, "openai", "/v1/models", Some(&limited)).await, 429, "virtual_key_quota_exhausted");
    assert_eq!(get(&w, "openai", "/v1/models", Some(&open)).await.status, 200);
    // The credential's limit (2) is reached: the owner's tier refuses rather than moving the bill.
    w.credential("platform", "openai", None).await;
    let r = get(&w, "openai", "/v1/models", Some(&open)).await;
    openai_error(&r, 429, "quota_exhausted");
    assert_eq!(r.body["error"]["type"], "insufficient_quota");

    let view: Value = w.app.get(&format!("/v1/credentials/{credential}"), &w.svc).await.body;
    assert_eq!(view["usage"]["total"], 2);
    let key = w.app.get(&format!("/v1/tokens/{limited_id}"), &w.svc).await.body;
    assert_eq!((key["usage"]["total"].clone(), key["usage"]["monthly_limit"].clone()), (json!(1), json!(1)));
}

async fn the_owner_pays_or_nobody(engine: Engine) {
    let w = world(engine).await;
    // Bob has nothing and the platform has nothing: no credential.
    let (_, bob) = w.virtual_key("user:bob", &[], None).await;
    openai_error(&get(&w, "openai", "/v1/models", Some(&bob)).await, 404, "no_credential");
    // A platform credential pays for a user without one.
    let platform = w.credential("platform", "openai", None).await;
    assert_eq!(get(&w, "openai", "/v1/models", Some(&bob)).await.status, 200);
    // An org that forbids platform keys: its key finds nothing.
    let (_, acme) = w.virtual_key("org:acme", &[], None).await;
    assert_eq!(
        w.app
            .send(
                w.app
                    .client
                    .put(w.app.url("/v1/orgs/acme/policy"))
                    .bearer_auth(&w.svc)
                    .json(&json!({"allow_platform_fallback": false}))
            )
            .await
            .status,
        200
    );
    openai_error(&get(&w, "openai", "/v1/models", Some(&acme)).await, 404, "no_credential");
    let acme_credential = w.credential("org:acme", "openai", None).await;
    assert_eq!(get(&w, "openai", "/v1/models", Some(&acme)).await.status, 200);

    // A service token names the user and org; the chain is user → org → platform.
    let svc_get = |user: &'static str| {
        w.app.send(
            w.app
                .client
                .get(w.proxy_url("openai", "/v1/models"))
                .bearer_auth(&w.svc)
                .header("x-byok-user", user)
                .header("x-byok-org", "acme"),
        )
    };
    assert_eq!(svc_get("carol").await.status, 200);
    let sent = w.last_sent("openai");
    assert!(sent.header("x-byok-user").is_none() && sent.header("x-byok-org").is_none());
    super::assert_absent(&sent, &w.svc);
    openai_error(&svc_get("bad id!").await, 400, "invalid_request");

    for (id, used) in [(platform, 1), (acme_credential, 2)] {
        w.eventually(&format!("/v1/credentials/{id}"), |v| v["usage"]["total"] == used).await;
    }
}
