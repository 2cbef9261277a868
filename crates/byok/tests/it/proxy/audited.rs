//! Every proxied use of a secret is audited: for a credential with a limit the entry is
//! written with its unit before the secret goes out; for one without, it is written to
//! the instance's audit spool before the secret goes out and committed in the spool's
//! next batch (or, after a crash, when byok starts again).

use serde_json::json;

use super::{Processes, real_key, world};
use crate::both_engines;
use crate::operator_cli::byok_on;
use crate::support::Engine;

both_engines!(proxied_reads_are_audited, a_graceful_stop_writes_what_is_queued, a_killed_process_loses_no_proxied_use);

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

/// Every spool file under `dir`, as text.
fn spooled(dir: &std::path::Path) -> String {
    let mut text = String::new();
    for slot in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let Ok(files) = std::fs::read_dir(slot.path()) else { continue };
        for file in files.filter_map(Result::ok).filter(|f| f.path().extension().is_some_and(|x| x == "spool")) {
            text.push_str(&std::fs::read_to_string(file.path()).unwrap());
        }
    }
    text
}

/// A process killed (SIGKILL) after answering proxied requests whose audit entries it
/// could not commit yet (the test holds the database's write lock): the next start in
/// the same spool commits every one of them, once, with the requests they count on the
/// credential and the virtual key (neither has a limit), and the chain verifies.
async fn a_killed_process_loses_no_proxied_use(engine: Engine) {
    let spool = tempfile::tempdir().unwrap();
    let mut world = Processes::new(engine).await;
    world.set_env("TMPDIR", spool.path().to_str().unwrap());
    let byok = world.start();
    let owned = world.owner(&byok, "user:frank").await;
    let held = world.db.hold_audit_writes().await;
    let client = reqwest::Client::new();
    let ids: Vec<String> = (0..12).map(|i| format!("spool-{i}-{}", uuid::Uuid::new_v4().simple())).collect();
    for id in &ids {
        let r = client
            .get(format!("{}/v1/proxy/openai/v1/models", byok.base))
            .bearer_auth(&owned.vk)
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "a proxied answer does not wait for its audit entry's commit");
    }
    let text = spooled(spool.path());
    assert!(ids.iter().all(|id| text.contains(id.as_str())), "every use is spooled before its answer: {text}");
    assert!(!text.contains(&real_key("openai")) && !text.contains(&owned.vk), "no secret in the spool");
    let proxied = "SELECT count(*) FROM audit_log WHERE action = 'credential.proxy'";
    assert_eq!(world.db.count(proxied).await, 0, "nothing was committed before the kill");
    let credential_count = format!("SELECT usage_total FROM credentials WHERE id = '{}'", owned.credential);
    let key_count = "SELECT v.usage_total FROM virtual_keys v JOIN tokens t ON t.id = v.token_id \
                     WHERE t.owner = 'user:frank'";
    assert_eq!(world.db.count(&credential_count).await, 0, "a use is counted with its entry, not before");
    assert_eq!(world.db.count(key_count).await, 0, "a use is counted with its entry, not before");
    byok.kill();
    held.release().await;

    let byok = world.start();
    for id in &ids {
        let sql = format!("SELECT count(*) FROM audit_log WHERE action = 'credential.proxy' AND request_id = '{id}'");
        assert_eq!(world.db.count(&sql).await, 1, "the use of request {id} is in the audit log once");
    }
    assert!(!spooled(spool.path()).contains(ids[0].as_str()), "the recovered spool file is removed");
    assert_eq!(world.db.count(&credential_count).await, 12, "each use is counted on the credential once");
    assert_eq!(world.db.count(key_count).await, 12, "each use is counted on the virtual key once");
    let verified = byok_on(&world.db.url, &["audit", "verify"]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    drop(byok);
}
