//! Every proxied use of a secret is audited before the secret goes out, whether the
//! credential has a limit (entry written with its unit) or not (entry written alone).

use serde_json::json;

use super::world;
use crate::both_engines;
use crate::support::Engine;

both_engines!(proxied_reads_are_audited);

async fn proxied_reads_are_audited(engine: Engine) {
    let w = world(engine).await;
    let limited = w.credential("user:alice", "openai", Some(100)).await;
    let unlimited = w.credential("user:bob", "openai", None).await;
    let (alice_key_id, alice_vk) = w.virtual_key("user:alice", &["openai"], None).await;
    let (_, bob_vk) = w.virtual_key("user:bob", &["openai"], None).await;
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    for vk in [&alice_vk, &bob_vk] {
        let r = w.post_json("openai", "/v1/chat/completions", vk, &body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let entries = w.app.get("/v1/audit?action=credential.proxy", &w.app.admin).await;
    let items = entries.body["items"].as_array().unwrap();
    for id in [&limited, &unlimited] {
        let entry = items
            .iter()
            .find(|e| e["credential_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no entry for {id}: {items:?}"));
        assert_eq!(entry["actor_role"], "virtual");
        assert_eq!(entry["outcome"], "ok");
        assert_eq!(entry["provider"], "openai");
    }
    let alice_entry = items.iter().find(|e| e["credential_id"] == limited.as_str()).unwrap();
    assert_eq!(alice_entry["actor_token"], alice_key_id.as_str());
    assert!(!entries.text.contains(&alice_vk) && !entries.text.contains(&bob_vk), "no virtual key in the audit");
}
