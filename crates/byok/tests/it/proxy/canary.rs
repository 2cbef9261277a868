//! A real provider key and a virtual key never show up where they must not: not in
//! byok's answers (the provider's own answers aside), its logs, its metrics, or (for
//! the virtual key) its database.

use serde_json::json;

use super::world;
use crate::both_engines;
use crate::support::{Engine, Resp, canary, captured_logs};

both_engines!(keys_never_leak_through_the_proxy);

async fn keys_never_leak_through_the_proxy(engine: Engine) {
    let w = world(engine).await;
    // The fake does not know this key: it answers with its invalid-key error, which
    // does not repeat the key.
    let real = canary("sk-proj-");
    let r = w
        .app
        .post(
            "/v1/credentials",
            &w.svc,
            json!({"owner": "user:alice", "provider": "openai", "fields": {"api_key": real}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let (key_id, vk) = w.virtual_key("user:alice", &["openai"], Some(6)).await;
    let chat = w.proxy_url("openai", "/v1/chat/completions");
    let client = &w.app.client;
    let mut answers: Vec<Resp> = Vec::new();
    for req in [
        client.post(&chat).bearer_auth(&vk).json(&json!({"model": "m", "messages": []})),
        client.post(&chat).bearer_auth(&vk).json(&json!({"model": "m", "stream": true, "messages": []})),
        client.get(format!("{}?key={vk}", w.proxy_url("openai", "/v1/models"))),
        client.get(w.proxy_url("anthropic", "/v1/models")).header("x-api-key", &vk),
        client.get(w.proxy_url("nope", "/v1/models")).bearer_auth(&vk),
        client.get(w.proxy_url("openai", &format!("/v1/models/{vk}"))).bearer_auth(&vk),
        client.get(w.app.url("/v1/credentials")).bearer_auth(&vk),
        client.get(w.proxy_url("openai", "/v1/models")).bearer_auth(format!("{vk}x")),
        client.get(w.proxy_url("openai", "/v1/models")).bearer_auth(&vk).header("x-byok-echo", &vk),
    ] {
        answers.push(w.app.send(req).await);
    }
    for _ in 0..4 {
        answers.push(w.app.send(client.get(w.proxy_url("openai", "/v1/models")).bearer_auth(&vk)).await);
    }
    answers.push(w.app.get(&format!("/v1/tokens/{key_id}"), &w.svc).await);
    answers.push(w.app.get("/v1/usage?owner=user:alice", &w.svc).await);
    answers.push(w.app.send(client.get(w.app.url("/metrics"))).await);
    assert_eq!(answers[0].status, 401, "the fake refused the unknown key: {}", answers[0].text);
    // The refused key is marked failing; its status message names no key either.
    let view = w.eventually(&format!("/v1/credentials/{id}"), |c| c["status"] == "error").await;
    answers.push(w.app.get(&format!("/v1/credentials/{id}"), &w.svc).await);
    assert!(!view.to_string().contains(&real), "{view}");

    // The real key did reach the provider, in its place: the test looks where it should.
    let sent = w.fakes.requests_to("openai");
    assert!(sent.iter().all(|s| s.header("authorization") == Some(format!("Bearer {real}").as_str())));
    assert!(!sent.is_empty());

    for answer in &answers {
        let all = answer.everything();
        assert!(!all.contains(&real), "the real key in an answer: {all}");
        assert!(!all.contains(&vk), "the virtual key in an answer: {all}");
    }
    let logs = captured_logs();
    assert!(logs.contains(&key_id), "the log capture sees this test's proxied requests");
    assert!(!logs.contains(&real), "the real key in the logs");
    assert!(!logs.contains(&vk), "the virtual key in the logs");
    let bytes = w.app.db().all_bytes().await;
    assert!(!String::from_utf8_lossy(&bytes).contains(&vk), "the virtual key stored in plaintext");
}
