//! A refused key is marked failing, whether a product reports it after a resolve or
//! the provider refuses it behind the proxy: the owner's next key serves from then on,
//! and the change goes out as a `credential.status_changed` event.

use std::time::Duration;

use byok_fakes::WebhookReceiver;
use serde_json::json;

use crate::both_engines;
use crate::proxy::{real_key, world};
use crate::support::Engine;

both_engines!(a_product_reports_a_refused_key, a_key_the_provider_refuses_behind_the_proxy_is_marked_failing);

async fn a_product_reports_a_refused_key(engine: Engine) {
    let w = world(engine).await;
    let receiver = WebhookReceiver::start().await.unwrap();
    let hook = json!({"url": receiver.url, "events": ["credential.status_changed"]});
    assert_eq!(w.app.post("/v1/webhooks", &w.app.admin, hook).await.status, 201);
    let first = w.credential("user:noa", "openai", None).await;
    let r = w.app.post("/v1/credentials", &w.svc, json!({"owner": "user:noa", "provider": "openai", "label": "backup", "priority": 1, "fields": {"api_key": real_key("openai")}})).await;
    let second = r.body["id"].as_str().unwrap().to_owned();
    let ask = json!({"provider": "openai", "user": "noa"});
    assert_eq!(w.app.post("/v1/resolve", &w.svc, ask.clone()).await.body["credential_id"], first.as_str());

    for outcome in ["rate_limited", "error"] {
        let r = w
            .app
            .post(
                &format!("/v1/credentials/{first}/report"),
                &w.svc,
                json!({"outcome": outcome, "message": "slow down"}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["status"].as_str()),
            (200, Some("unverified")),
            "{outcome} changes no status: {}",
            r.text
        );
    }
    assert_eq!(w.app.post("/v1/resolve", &w.svc, ask.clone()).await.body["credential_id"], first.as_str());
    let r = w
        .app
        .post(
            &format!("/v1/credentials/{first}/report"),
            &w.svc,
            json!({"outcome": "invalid", "message": "Incorrect API key provided"}),
        )
        .await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("error")), "{}", r.text);
    assert_eq!(r.body["status_message"], "Incorrect API key provided");
    assert_eq!(
        w.app.post("/v1/resolve", &w.svc, ask).await.body["credential_id"],
        second.as_str(),
        "the next key serves"
    );

    let delivered = receiver.wait_for(1, Duration::from_secs(20)).await;
    let event = delivered.first().map(|d| d.json()).unwrap_or_default();
    assert_eq!(
        (event["data"]["from"].as_str(), event["data"]["to"].as_str()),
        (Some("unverified"), Some("error")),
        "{event}"
    );
    assert_eq!(event["data"]["message"], "Incorrect API key provided");
    let audit = w.app.get(&format!("/v1/audit?action=credential.report&credential={first}"), &w.app.admin).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 3, "{}", audit.text);

    for body in [json!({"outcome": "eaten"}), json!({}), json!({"outcome": "invalid", "message": "x".repeat(501)})] {
        let r = w.app.post(&format!("/v1/credentials/{second}/report"), &w.svc, body).await;
        assert_eq!(r.status, 422, "{}", r.text);
    }
    let user = w.app.user_token("other", &[]).await;
    let r = w.app.post(&format!("/v1/credentials/{second}/report"), &user, json!({"outcome": "invalid"})).await;
    r.assert_problem(404, "not_found");
    assert_eq!(w.app.get(&format!("/v1/credentials/{second}"), &w.svc).await.body["status"], "unverified");
}

async fn a_key_the_provider_refuses_behind_the_proxy_is_marked_failing(engine: Engine) {
    let w = world(engine).await;
    let refused_key = json!({"api_key": "sk-revoked-by-openai-aaaaaaaaaaaa"});
    let r = w
        .app
        .post("/v1/credentials", &w.svc, json!({"owner": "user:ola", "provider": "openai", "fields": refused_key}))
        .await;
    let refused = r.body["id"].as_str().unwrap().to_owned();
    let r = w.app.post("/v1/credentials", &w.svc, json!({"owner": "user:ola", "provider": "openai", "label": "backup", "priority": 1, "fields": {"api_key": real_key("openai")}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let backup = r.body["id"].as_str().unwrap().to_owned();
    let (key_id, key) = w.virtual_key("user:ola", &["openai"], Some(10)).await;
    let chat = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});

    // The first key is refused (401); the request goes out again with the backup key.
    let answer = w.post_json("openai", "/v1/chat/completions", &key, &chat).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.headers.get("x-byok-attempts").and_then(|v| v.to_str().ok()), Some("2"));
    let view = w.app.get(&format!("/v1/credentials/{refused}"), &w.svc).await;
    assert_eq!(view.body["status"], "error", "marked before the retry: {}", view.text);
    assert!(view.body["status_message"].as_str().unwrap().contains("answered 401"), "{}", view.text);
    let sent = w.fakes.requests_to("openai");
    assert_eq!(sent.len(), 2, "one request per attempt");
    assert_eq!(sent[0].header("authorization"), Some("Bearer sk-revoked-by-openai-aaaaaaaaaaaa"));
    assert_eq!(sent[1].header("authorization"), Some(format!("Bearer {}", real_key("openai")).as_str()));
    assert_eq!(sent[0].body, sent[1].body, "the same body both times");
    let used = w.eventually(&format!("/v1/credentials/{backup}"), |c| c["usage"]["period"] == 1).await;
    assert_eq!(used["usage"]["period"], 1);
    let key_usage = w.app.get(&format!("/v1/tokens/{key_id}"), &w.svc).await;
    assert_eq!(key_usage.body["usage"]["period"], 1, "one unit of the virtual key for one request");
    let audit = w.app.get("/v1/audit?action=credential.proxy&owner=user:ola", &w.app.admin).await;
    let used: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().filter_map(|e| e["credential_id"].as_str()).collect();
    assert!(
        used.contains(&refused.as_str()) && used.contains(&backup.as_str()),
        "each attempt audited: {}",
        audit.text
    );

    // Next time the backup key serves at once.
    let answer = w.post_json("openai", "/v1/chat/completions", &key, &chat).await;
    assert_eq!(answer.headers.get("x-byok-attempts").and_then(|v| v.to_str().ok()), Some("1"));

    // With no other key in the tier, the refusal goes back unchanged.
    let r = w
        .app
        .post("/v1/credentials", &w.svc, json!({"owner": "user:pia", "provider": "openai", "fields": refused_key}))
        .await;
    let only = r.body["id"].as_str().unwrap().to_owned();
    let (_, alone) = w.virtual_key("user:pia", &["openai"], None).await;
    let answer = w.post_json("openai", "/v1/chat/completions", &alone, &chat).await;
    assert_eq!(answer.status, 401, "{}", answer.text);
    assert_eq!(w.app.get(&format!("/v1/credentials/{only}"), &w.svc).await.body["status"], "error");
}
