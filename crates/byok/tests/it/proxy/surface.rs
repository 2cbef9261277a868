//! What a virtual key can reach: the provider's API for products, never its key
//! management; no byok token reaches a provider in any form; no provider cookie
//! reaches the client.

use std::collections::BTreeMap;

use base64::Engine as _;
use byok::config::Layer;
use byok_core::PathRule;
use byok_fakes::{MINTED_KEY, Scenario, fields};
use serde_json::json;

use super::{World, world, world_with};
use crate::both_engines;
use crate::support::{Engine, Resp, TEST_KEY, TestDb, open_state, test_config};

both_engines!(
    key_management_is_never_reached_with_a_virtual_key,
    operators_narrow_or_widen_what_the_proxy_reaches,
    a_byok_token_never_leaves_in_any_form,
    upstream_cookies_never_reach_the_client
);

async fn post(w: &World, provider: &str, path: &str, key: &str, body: serde_json::Value) -> Resp {
    w.app.send(w.app.client.post(w.proxy_url(provider, path)).bearer_auth(key).json(&body)).await
}

fn twilio_keys_path() -> String {
    let sid = &fields("twilio", Scenario::Good).unwrap()["account_sid"];
    format!("/2010-04-01/Accounts/{sid}/Keys.json")
}

async fn key_management_is_never_reached_with_a_virtual_key(engine: Engine) {
    let w = world(engine).await;
    // Alice has her own keys; Bob has none, so his requests would use the platform's.
    for provider in ["openai", "resend", "twilio"] {
        w.credential("user:alice", provider, None).await;
    }
    w.credential("platform", "resend", None).await;
    let (_, alice) = w.virtual_key("user:alice", &["*"], None).await;
    let (_, bob) = w.virtual_key("user:bob", &["resend"], None).await;

    let attempts = [
        ("resend", "/api-keys".to_owned(), &alice, json!({"name": "mine", "permission": "full_access"})),
        ("resend", "/api-keys".to_owned(), &bob, json!({"name": "mine", "permission": "full_access"})),
        ("openai", "/v1/organization/admin_api_keys".to_owned(), &alice, json!({"name": "New Admin Key"})),
        ("twilio", twilio_keys_path(), &alice, json!({"FriendlyName": "mine"})),
        // The virtual key where Twilio's SDK puts the account SID reaches no more.
        ("twilio", format!("/2010-04-01/Accounts/{alice}/Keys.json"), &alice, json!({"FriendlyName": "mine"})),
        // Dot segments are resolved before the rules are applied.
        ("openai", "/v1/chat/completions/../../v1/organization/admin_api_keys".to_owned(), &alice, json!({})),
    ];
    for (provider, path, key, body) in attempts {
        let r = post(&w, provider, &path, key, body).await;
        // Resend's name for a key that may not do this is 401 `restricted_api_key`.
        let status = if provider == "resend" { 401 } else { 403 };
        assert_eq!((r.status, r.code()), (status, "path_not_allowed"), "{provider} {path}: {}", r.text);
        assert!(!r.text.contains(MINTED_KEY));
        assert!(w.fakes.requests_to(provider).is_empty(), "{provider} {path} reached the provider");
    }
    // Each in its provider's error shape, so SDKs raise their permission error.
    let r = post(&w, "openai", "/v1/organization/admin_api_keys", &alice, json!({})).await;
    assert_eq!(r.body["error"]["code"], "path_not_allowed");
    let r = post(&w, "resend", "/api-keys", &alice, json!({})).await;
    assert_eq!((r.body["statusCode"].as_u64(), r.body["name"].as_str()), (Some(401), Some("restricted_api_key")));
    let r = post(&w, "twilio", &twilio_keys_path(), &alice, json!({})).await;
    assert_eq!((r.body["code"].as_u64(), r.body["status"].as_u64()), (Some(20403), Some(403)));
    // A method the rules do not list for an allowed path is refused too.
    let r = w.app.send(w.app.client.delete(w.proxy_url("openai", "/v1/chat/completions")).bearer_auth(&alice)).await;
    assert_eq!((r.status, r.code()), (403, "path_not_allowed"));
    assert!(w.fakes.requests().is_empty());

    // The product's API still works with the same key.
    let ask = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]});
    assert_eq!(w.post_json("openai", "/v1/chat/completions", &alice, &ask).await.status, 200);
}

fn rules(list: &[&str]) -> Vec<PathRule> {
    list.iter().map(|r| PathRule::parse(r).unwrap()).collect()
}

async fn operators_narrow_or_widen_what_the_proxy_reaches(engine: Engine) {
    let proxy_allow = BTreeMap::from([
        ("openai".to_owned(), rules(&["GET /v1/models"])),
        ("resend".to_owned(), rules(&["POST /emails", "POST /api-keys"])),
    ]);
    let w = world_with(engine, Layer { proxy_allow: Some(proxy_allow), ..Layer::default() }).await;
    w.credential("user:alice", "openai", None).await;
    w.credential("user:alice", "resend", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["*"], None).await;

    let ask = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]});
    let r = w.post_json("openai", "/v1/chat/completions", &vk, &ask).await;
    assert_eq!((r.status, r.code()), (403, "path_not_allowed"), "narrowed: {}", r.text);
    let r = w.app.send(w.app.client.get(w.proxy_url("openai", "/v1/models")).bearer_auth(&vk)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Widened: the provider's own answer comes back (what the default list prevents).
    let r = post(&w, "resend", "/api-keys", &vk, json!({"name": "ops"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["token"], MINTED_KEY);
    assert_eq!(w.fakes.requests_to("resend").len(), 1);

    // A rule for a provider the catalog lacks stops start-up.
    let db = TestDb::fresh(engine).await;
    let mut config = test_config(&db.url, TEST_KEY);
    config.proxy_allow = BTreeMap::from([("nope".to_owned(), rules(&["GET /x"]))]);
    let err = open_state(&config).await.err().expect("an unknown provider is refused");
    assert!(err.to_string().contains("proxy_allow"), "{err}");
}

async fn a_byok_token_never_leaves_in_any_form(engine: Engine) {
    let w = world(engine).await;
    w.credential("user:alice", "openai", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["openai"], None).await;
    let (_, other) = w.virtual_key("user:alice", &["openai"], None).await;
    let models = w.proxy_url("openai", "/v1/models");
    let chat = w.proxy_url("openai", "/v1/chat/completions");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let percent: String = vk.bytes().map(|b| format!("%{b:02X}")).collect();
    let message = |text: &str| json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]});
    let c = &w.app.client;
    let attempts = [
        ("a second key in ?key=", c.get(format!("{models}?key={other}")).bearer_auth(&vk)),
        ("the same key in ?key= beside another", c.get(format!("{models}?key={vk}&key={other}")).bearer_auth(&vk)),
        ("percent-encoded in a custom header", c.get(&models).bearer_auth(&vk).header("x-note", &percent)),
        ("base64 in a custom header", c.get(&models).bearer_auth(&vk).header("x-note", b64(&format!("u:{vk}")))),
        ("in the path", c.get(w.proxy_url("openai", &format!("/v1/models/{other}"))).bearer_auth(&vk)),
        ("percent-encoded in the query", c.get(format!("{models}?q={percent}")).bearer_auth(&vk)),
        ("inside a JSON body", c.post(&chat).bearer_auth(&vk).json(&message(&format!("my key is {vk}")))),
        ("base64 in a JSON body", c.post(&chat).bearer_auth(&vk).json(&message(&b64(&other)))),
    ];
    for (what, request) in attempts {
        let r = w.app.send(request).await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "{what}: {}", r.text);
        assert!(!r.text.contains(&vk) && !r.text.contains(&other), "{what}: the answer echoes the key");
    }
    // JSON escapes hide nothing either.
    let escaped = format!(
        r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"\u0062{}"}}]}}"#,
        &other["b".len()..]
    );
    let r = w.app.send(c.post(&chat).bearer_auth(&vk).header("content-type", "application/json").body(escaped)).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"), "{}", r.text);
    assert!(w.fakes.requests_to("openai").is_empty(), "a refused request reached the provider");

    // The key where the SDK puts it (also twice, in the header and ?key=) goes through.
    let r = w.app.send(c.get(format!("{models}?key={vk}")).bearer_auth(&vk)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(w.fakes.requests_to("openai").len(), 1);
}

async fn upstream_cookies_never_reach_the_client(engine: Engine) {
    let w = world(engine).await;
    w.credential("user:alice", "openai", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["openai"], None).await;
    let ask = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]});
    let r = w.post_json("openai", "/v1/chat/completions", &vk, &ask).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.headers.get("set-cookie").is_none(), "the provider's cookie reached byok's client");
    // The provider did set one.
    let direct = w.direct("openai", &w.last_sent("openai")).await;
    assert!(direct.headers["set-cookie"].to_str().unwrap().starts_with("__cf_bm="));
}
