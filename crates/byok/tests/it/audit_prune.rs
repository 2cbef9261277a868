//! `byok audit prune`: only what an export holds is removed, and every chain stays
//! verifiable from its first kept entry; tampering after a prune is still found.

use std::path::Path;

use byok::config::Layer;
use byok_core::Timestamp;
use byok_server::audit_verify::{Report, verify};

use crate::both_engines;
use crate::operator_cli::{byok_on, stderr, stdout};
use crate::support::{Engine, TEST_KEY, TestApp, TestDb, spawn_app};

both_engines!(prune_removes_only_exported_entries_and_verify_still_finds_tampering);

async fn check(db: &TestDb) -> Report {
    let config = byok::config::Config::from_layer(Layer {
        master_key: Some(TEST_KEY.to_owned()),
        database_url: Some(db.url.clone()),
        ..Layer::default()
    })
    .unwrap();
    let (store, key) = byok::startup::open_audit(&config).await.unwrap();
    verify(store.as_ref(), &key, &[]).await.unwrap()
}

fn broken(report: &Report) -> String {
    report.first_break.as_ref().map(|b| b.reason.clone()).unwrap_or_default()
}

async fn create(app: &TestApp, token: &str, users: std::ops::Range<u32>) {
    for i in users {
        app.create_openai(token, Some(&format!("user:u{i}")), "sk-prune-key-aaaaaaaaaaaaaa").await;
    }
}

fn export(url: &str, before: &str, file: &Path) -> usize {
    let out = byok_on(url, &["audit", "export", "--before", before]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(file, &out.stdout).unwrap();
    stdout(&out).lines().count()
}

fn prune(url: &str, before: &str, file: &Path) -> std::process::Output {
    byok_on(url, &["audit", "prune", "--before", before, "--exported", file.to_str().unwrap()])
}

async fn prune_removes_only_exported_entries_and_verify_still_finds_tampering(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    create(&app, &svc, 0..3).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cut = Timestamp::now();
    let before = cut.to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    create(&app, &svc, 3..7).await;
    let db = app.db();
    let url = db.url.clone();
    let old = format!("SELECT count(*) FROM audit_log WHERE at < {}", cut.millis());
    let to_remove = db.count(&old).await;
    assert!(to_remove >= 5, "chain starts, the token and three credentials: {to_remove}");
    let dir = tempfile::tempdir().unwrap();

    // Nothing exported, an export that stops earlier, or one edited: refused, nothing removed.
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let short = dir.path().join("short.jsonl");
    export(&url, "2000-01-01", &short);
    let edited = dir.path().join("edited.jsonl");
    export(&url, &before, &edited);
    let text = std::fs::read_to_string(&edited).unwrap().replacen("\"credential.create\"", "\"credential.test\"", 1);
    std::fs::write(&edited, text).unwrap();
    for file in [&empty, &short, &edited] {
        let out = prune(&url, &before, file);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("as stored; nothing pruned. Export first"), "{}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1);
    }
    let missing = prune(&url, &before, &dir.path().join("absent.jsonl"));
    assert!(missing.status.code() == Some(1) && stderr(&missing).contains("cannot read"), "{}", stderr(&missing));
    let bad_date = prune(&url, "last week", &empty);
    assert!(bad_date.status.code() == Some(2) && stderr(&bad_date).contains("RFC 3339"), "{}", stderr(&bad_date));
    assert_eq!(db.count(&old).await, to_remove, "a refused prune removed nothing");
    assert_eq!(db.count("SELECT count(*) FROM audit_pruned_heads").await, 0);

    let kept_file = dir.path().join("audit-before.jsonl");
    assert_eq!(export(&url, &before, &kept_file) as i64, to_remove);
    let out = prune(&url, &before, &kept_file);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with(&format!("pruned {to_remove} audit entries before {before}")), "{}", stdout(&out));
    assert_eq!(db.count(&old).await, 0);
    assert!(db.count("SELECT count(*) FROM audit_pruned_heads").await >= 1, "at least the API instance's chain");
    let pruned = app.get("/v1/audit?action=audit.prune", &app.admin).await;
    let pruned = pruned.body["items"].as_array().unwrap().clone();
    assert_eq!(pruned.len(), 1, "the prune is audited");
    assert_eq!(pruned[0]["actor_role"], "operator");
    assert!(pruned[0]["detail"].as_str().unwrap().contains(&format!("removed {to_remove} entries")));

    // The service keeps appending to its pruned chain; everything verifies.
    create(&app, &svc, 7..8).await;
    let verified = byok_on(&url, &["audit", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", stderr(&verified));
    assert!(stdout(&verified).contains("continue from a pruned head"), "{}", stdout(&verified));
    assert_eq!(check(db).await.first_break, None);
    let again = prune(&url, &before, &kept_file);
    assert_eq!(
        (again.status.code(), stdout(&again).trim()),
        (Some(0), format!("pruned 0 audit entries before {before} from 0 chains").as_str())
    );

    // The chain of the API's instance: pruned at `p`, kept from p + 1.
    let chain = app.get("/v1/audit?action=credential.create", &app.admin).await.body["items"][0]["chain"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = db.count(&format!("SELECT seq FROM audit_pruned_heads WHERE chain = '{chain}'")).await;
    let first_kept = db.count(&format!("SELECT min(seq) FROM audit_log WHERE chain = '{chain}'")).await;
    assert_eq!(first_kept, p + 1);
    let at_seq = |seq: i64| format!("WHERE chain = $1 AND seq = {seq}");

    db.execute(&format!("UPDATE audit_log SET at = at + 1 {}", at_seq(first_kept)), &[&chain]).await;
    let report = check(db).await;
    assert!(broken(&report).contains("altered"), "first kept entry edited: {report:?}");
    let cli = byok_on(&url, &["audit", "verify"]);
    assert_eq!(cli.status.code(), Some(1));
    assert!(stderr(&cli).contains(&format!("audit chain {chain} broken at entry {first_kept}")), "{}", stderr(&cli));
    db.execute(&format!("UPDATE audit_log SET at = at - 1 {}", at_seq(first_kept)), &[&chain]).await;
    assert_eq!(check(db).await.first_break, None, "restored");

    db.execute("UPDATE audit_pruned_heads SET seq = seq + 1 WHERE chain = $1", &[&chain]).await;
    assert!(broken(&check(db).await).contains("altered or forged"), "the pruned head moved");
    db.execute("UPDATE audit_pruned_heads SET seq = seq - 1 WHERE chain = $1", &[&chain]).await;

    db.execute(&format!("DELETE FROM audit_log {}", at_seq(first_kept)), &[&chain]).await;
    let report = check(db).await;
    assert!(
        broken(&report).contains(&format!("entry {first_kept} is missing")),
        "first kept entry deleted: {report:?}"
    );

    // Hiding that deletion by moving the pruned head to the next entry (its seq and MAC
    // copied from the table) is found too: the head's attestation no longer matches.
    let next = first_kept + 1;
    db.execute(
        &format!(
            "UPDATE audit_pruned_heads SET seq = {next}, mac = (SELECT mac FROM audit_log {}) WHERE chain = $1",
            at_seq(next)
        ),
        &[&chain],
    )
    .await;
    db.execute(&format!("DELETE FROM audit_log {}", at_seq(next)), &[&chain]).await;
    assert!(broken(&check(db).await).contains("altered or forged"), "a forged pruned head");

    // A broken log is not pruned.
    let later = Timestamp::now().to_rfc3339();
    let all = dir.path().join("all.jsonl");
    export(&url, &later, &all);
    let refused = prune(&url, &later, &all);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("the audit log is broken"), "{}", stderr(&refused));
}
