//! Every proxied use of a secret is audited: for a credential with a limit the entry is
//! written with its unit before the secret goes out; for one without, it is queued
//! before the secret goes out and written in the audit writer's next batch.

use serde_json::json;

use super::{Processes, world};
use crate::both_engines;
use crate::support::Engine;

both_engines!(proxied_reads_are_audited, a_graceful_stop_writes_what_is_queued);

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
    let entries =
        w.eventually("/v1/audit?action=credential.proxy", |b| b["items"].as_array().unwrap().len() == 2).await;
    let text = entries.to_string();
    let items = entries["items"].as_array().unwrap();
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
    assert!(!text.contains(&alice_vk) && !text.contains(&bob_vk), "no virtual key in the audit");
}

/// Uses of credentials without a limit are audited and counted in batches after the
/// fact; stopping the service must write what it still holds.
async fn a_graceful_stop_writes_what_is_queued(engine: Engine) {
    let world = Processes::new(engine).await;
    let byok = world.start();
    let vk = world.owner(&byok, "user:erin").await.vk;
    let client = reqwest::Client::new();
    const USES: i64 = 20;
    for _ in 0..USES {
        let r = client.get(format!("{}/v1/proxy/openai/v1/models", byok.base)).bearer_auth(&vk).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert!(byok.terminate().success(), "byok stops cleanly");
    let audited = world.db.count("SELECT count(*) FROM audit_log WHERE action = 'credential.proxy'").await;
    assert_eq!(audited, USES, "every proxied use is in the audit log after a stop");
    let counted = world.db.count("SELECT usage_total FROM credentials WHERE owner = 'user:erin'").await;
    assert_eq!(counted, USES, "every proxied request is counted after a stop");
}
