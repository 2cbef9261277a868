//! Invariant 3: every secret read and every change is audited, entries are chained,
//! and `byok audit verify` finds an edited, deleted or reordered entry.

use std::process::Command;

use byok::config::Layer;
use byok_server::audit_verify::{Head, verify};
use serde_json::json;

use crate::both_engines;
use crate::support::{Engine, TEST_KEY, TestApp, canary, spawn_app};

both_engines!(
    reads_changes_and_refusals_are_audited,
    resolve_entries_name_the_credential_really_taken,
    tamper_matrix,
    truncation_needs_recorded_heads,
    canary_absent_from_audit
);

async fn audit_entries(app: &TestApp, query: &str) -> Vec<serde_json::Value> {
    let r = app.get(&format!("/v1/audit?{query}"), &app.admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

async fn reads_changes_and_refusals_are_audited(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let request_id = format!("audit-{}", uuid::Uuid::new_v4());
    let created = app
        .send(app.client.post(app.url("/v1/credentials")).bearer_auth(&svc).header("x-request-id", &request_id).json(
            &json!({"owner": "user:alice", "provider": "openai", "fields": {"api_key": "sk-audited-key-aaaaaaaaaaaa"}}),
        ))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/credentials/{id}");
    app.patch(&path, &svc, json!({"fields": {"api_key": "sk-audited-key-bbbbbbbbbbbb"}})).await;
    app.patch(&path, &svc, json!({"enabled": false})).await;
    app.patch(&path, &svc, json!({"enabled": true})).await;
    assert_eq!(app.post("/v1/resolve", &svc, json!({"provider": "openai", "user": "alice"})).await.status, 200);
    app.delete(&path, &svc).await;
    app.send(app.client.get(app.url("/v1/credentials")).bearer_auth("byok_svc_not-a-real-token"))
        .await
        .assert_problem(401, "unauthorized");

    let entries = audit_entries(&app, &format!("credential={id}")).await;
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "credential.create",
            "credential.update",
            "credential.update",
            "credential.disable",
            "credential.update",
            "credential.enable",
            "credential.resolve",
            "credential.delete"
        ]
    );
    let first = &entries[0];
    assert_eq!(first["actor_role"], "service");
    assert_eq!(first["owner"], "user:alice");
    assert_eq!(first["provider"], "openai");
    assert_eq!(first["outcome"], "ok");
    assert_eq!(first["request_id"], request_id.as_str());
    assert_eq!(first["client_addr"], "127.0.0.1");
    assert!(first["actor_token"].is_string());
    assert_eq!(entries[1]["detail"], "new secret version 2");

    let refused = audit_entries(&app, "action=auth.refused").await;
    assert!(refused.iter().any(|e| e["outcome"] == "denied" && e["detail"] == "GET /v1/credentials"), "{refused:?}");
    let tokens = audit_entries(&app, "action=token.create").await;
    assert!(!tokens.is_empty());
    // Filters and paging.
    let page = app.get(&format!("/v1/audit?credential={id}&limit=3"), &app.admin).await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 3);
    let next = page.body["next"].as_str().unwrap();
    let rest = audit_entries(&app, &format!("credential={id}&cursor={next}")).await;
    assert_eq!(rest.len(), 5);
    // Admins only.
    app.get("/v1/audit", &svc).await.assert_problem(403, "forbidden");
    app.get("/v1/audit?since=yesterday", &app.admin).await.assert_problem(400, "invalid_query");
}

/// PostgreSQL's writer writes a resolve's entry with its take, from the credential it
/// took last time for that owner (`byok-store/src/postgres/predicted.rs`): when the
/// pick changes, the entry and the unit must still go to the credential really taken,
/// and the chain stay whole.
async fn resolve_entries_name_the_credential_really_taken(engine: Engine) {
    let app = &spawn_app(engine).await;
    let svc = &app.service_token().await;
    let ask = json!({"provider": "openai", "user": "alice"});
    let create = |label: &str, priority: i64| {
        let body = json!({"owner": "user:alice", "provider": "openai", "label": label, "priority": priority,
            "fields": {"api_key": format!("sk-{label}-key-aaaaaaaaaaaaaaaa")}});
        async move {
            let r = app.post("/v1/credentials", svc, body).await;
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["id"].as_str().unwrap().to_owned()
        }
    };
    let resolve = || async { app.post("/v1/resolve", svc, ask.clone()).await.body["credential_id"].clone() };
    let first = create("first", 5).await;
    assert_eq!(resolve().await, first.as_str());
    assert_eq!(resolve().await, first.as_str());
    // A better credential arrives: the last pick is now the wrong one.
    let better = create("better", 1).await;
    assert_eq!(resolve().await, better.as_str());
    // The better one is disabled, and the pick goes back.
    app.patch(&format!("/v1/credentials/{better}"), svc, json!({"enabled": false})).await;
    assert_eq!(resolve().await, first.as_str());
    // Nothing left: no unit is taken, no resolve entry is written.
    app.patch(&format!("/v1/credentials/{first}"), svc, json!({"enabled": false})).await;
    app.post("/v1/resolve", svc, ask.clone()).await.assert_problem(404, "no_credential");

    // Resolves of credentials without a limit are counted just after their answer.
    app.eventually(&format!("/v1/credentials/{first}"), |c| c["usage"]["total"] == 3).await;
    app.eventually(&format!("/v1/credentials/{better}"), |c| c["usage"]["total"] == 1).await;
    let named: Vec<String> = audit_entries(app, "action=credential.resolve")
        .await
        .iter()
        .filter(|e| e["outcome"] == "ok")
        .map(|e| e["credential_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(named, [first.as_str(), &first, &better, &first]);
    let report = check(app, &[]).await;
    assert!(report.first_break.is_none(), "{:?}", report.first_break);
}

/// The audit key and store, as `byok audit verify` opens them.
async fn check(app: &TestApp, heads: &[Head]) -> byok_server::audit_verify::Report {
    let config = byok::config::Config::from_layer(Layer {
        master_key: Some(TEST_KEY.to_owned()),
        database_url: Some(app.db().url.clone()),
        ..Layer::default()
    })
    .unwrap();
    let (store, key) = byok::startup::open_audit(&config).await.unwrap();
    verify(store.as_ref(), &key, heads).await.unwrap()
}

async fn produce_entries(app: &TestApp) -> String {
    let svc = app.service_token().await;
    for i in 0..3 {
        app.create_openai(&svc, Some(&format!("user:u{i}")), "sk-tamper-key-aaaaaaaaaaaaa").await;
    }
    // The chain of this app's own instance: the one with the credential entries.
    let entries = audit_entries(app, "action=credential.create").await;
    entries[0]["chain"].as_str().unwrap().to_owned()
}

async fn tamper_matrix(engine: Engine) {
    type Tamper = (&'static str, &'static [&'static str], &'static str);
    let cases: [Tamper; 4] = [
        ("edit", &["UPDATE audit_log SET detail = 'rewritten' WHERE chain = $1 AND seq = 3"], "altered"),
        ("edit the time", &["UPDATE audit_log SET at = at + 1 WHERE chain = $1 AND seq = 3"], "altered"),
        ("delete", &["DELETE FROM audit_log WHERE chain = $1 AND seq = 3"], "missing"),
        (
            "reorder",
            &[
                "UPDATE audit_log SET seq = -1 WHERE chain = $1 AND seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE chain = $1 AND seq = 4",
                "UPDATE audit_log SET seq = 4 WHERE chain = $1 AND seq = -1",
            ],
            "altered",
        ),
    ];
    for (name, statements, expected) in cases {
        let app = spawn_app(engine).await;
        let chain = produce_entries(&app).await;
        let clean = check(&app, &[]).await;
        assert!(clean.first_break.is_none(), "{name}: clean log reported broken: {:?}", clean.first_break);
        assert!(clean.entries >= 5);
        for sql in statements {
            assert_eq!(app.db().execute(sql, &[&chain]).await, 1, "{name}: {sql}");
        }
        let report = check(&app, &[]).await;
        let broken = report.first_break.unwrap_or_else(|| panic!("{name} was not detected"));
        assert_eq!((broken.chain.as_str(), broken.seq), (chain.as_str(), 3), "{name}");
        assert!(broken.reason.contains(expected), "{name}: {}", broken.reason);
    }
}

async fn truncation_needs_recorded_heads(engine: Engine) {
    let app = spawn_app(engine).await;
    let chain = produce_entries(&app).await;
    let before = check(&app, &[]).await;
    let head = before.heads.iter().find(|h| h.chain == chain).unwrap().clone();
    app.db()
        .execute(
            "DELETE FROM audit_log WHERE chain = $1 AND seq = CAST($2 AS BIGINT)",
            &[&chain, &head.seq.to_string()],
        )
        .await;
    // Without a recorded head, cutting the newest entry cannot be seen (documented)...
    assert!(check(&app, &[]).await.first_break.is_none());
    // ...with one, it is.
    let report = check(&app, std::slice::from_ref(&head)).await;
    let broken = report.first_break.expect("truncation detected against the recorded head");
    assert_eq!(broken.seq, head.seq);

    // The CLI: exit 1 and one line naming the entry.
    let dir = tempfile::tempdir().unwrap();
    let heads = dir.path().join("heads.txt");
    std::fs::write(&heads, format!("{}\n", head.line())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_byok"))
        .args(["audit", "verify", "--heads", heads.to_str().unwrap()])
        .env_clear()
        .env("BYOK_MASTER_KEY", TEST_KEY)
        .env("DATABASE_URL", &app.db().url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("audit chain {chain} broken at entry {}", head.seq)), "{err}");
}

async fn canary_absent_from_audit(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let secret = canary("sk-proj-");
    let id = app.create_openai(&svc, Some("user:alice"), &secret).await;
    app.post("/v1/resolve", &svc, json!({"provider": "openai", "user": "alice"})).await;
    app.patch(&format!("/v1/credentials/{id}"), &svc, json!({"fields": {"api_key": format!("{secret}2")}})).await;
    let listed = app.get("/v1/audit?limit=1000", &app.admin).await;
    assert!(listed.text.contains(&id), "the audit listing covers the credential");
    assert!(!listed.text.contains(&secret));
    let out = Command::new(env!("CARGO_BIN_EXE_byok"))
        .args(["audit", "export"])
        .env_clear()
        .env("BYOK_MASTER_KEY", TEST_KEY)
        .env("DATABASE_URL", &app.db().url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let export = String::from_utf8(out.stdout).unwrap();
    assert!(export.lines().count() >= 4 && export.contains(&id));
    for line in export.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(entry["mac"].as_str().unwrap().len() == 64);
    }
    assert!(!export.contains(&secret), "a secret reached the audit export");
}
