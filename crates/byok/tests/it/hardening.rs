//! Defects found by the attack review (issue 16, section 3), one regression test each,
//! named after the defect it proves fixed.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use byok::config::{Config, Layer};
use byok_fakes::{Scenario, fields};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both_engines;
use crate::proxy::world;
use crate::support::{
    AppOptions, Engine, TEST_KEY, TestApp, TestDb, canary, open_state_with_env, spawn_app, spawn_with,
};

both_engines!(
    token_counts_saturate,
    proxy_refusals_are_audited,
    cli_token_create_is_audited,
    failed_validation_probe_is_audited,
    changes_stand_only_with_their_audit_entry,
    tokens_in_paths_are_redacted_everywhere
);

fn byok(envs: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_byok"))
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("byok runs");
    // A command that should stop at once must not hang the test (e.g. a serve that starts).
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("byok {args:?} was still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/v1/audit?{query}"), &app.admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

/// 3.1: made-up methods (and every other label) cannot add Prometheus series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_fold_unknown_methods() {
    let app = spawn_app(Engine::Sqlite).await;
    let metrics = || async { app.send(app.client.get(app.url("/metrics"))).await.text };
    // One request of each kind first, so their series exist before measuring.
    let invented = |i: usize| reqwest::Method::from_bytes(format!("X{i}{}", "M".repeat(200)).as_bytes()).unwrap();
    let paths = ["/healthz", "/no/such/path", "/v1/proxy/openai/v1/models"];
    for path in paths {
        app.send(app.client.request(invented(999), app.url(path))).await;
    }
    metrics().await;
    let before = metrics().await.len();
    for i in 0..20 {
        for path in paths {
            app.send(app.client.request(invented(i), app.url(path))).await;
        }
    }
    let after = metrics().await;
    assert!(!after.contains("MMMM"), "an invented method became a label value");
    assert!(after.contains("method=\"other\""), "{after}");
    assert!(after.contains("route=\"unmatched\""), "{after}");
    // Only the counters' digits may grow.
    assert!(after.len() < before + 1024, "/metrics grew from {before} to {} bytes", after.len());
}

/// 3.2: a client that stalls while sending its request head, or stays idle on a
/// kept-alive connection, is disconnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_disconnected() {
    let settings = Layer {
        master_key: Some(TEST_KEY.to_owned()),
        reverify_interval_secs: Some(0),
        header_read_timeout_secs: Some(1),
        ..Layer::default()
    };
    let app = spawn_with(TestDb::fresh(Engine::Sqlite).await, AppOptions { settings, ..AppOptions::default() }).await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    let half_line = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let half_headers = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut half_line, mut half_headers) = (half_line, half_headers);
    half_line.write_all(b"GET /healthz HT").await.unwrap();
    half_headers.write_all(b"GET /healthz HTTP/1.1\r\nHost: byok\r\nX-Slow: ").await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: byok\r\n\r\n").await.unwrap();
    let mut answer = [0u8; 1024];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer[..n]));

    let started = Instant::now();
    for (name, mut stream) in
        [("half request line", half_line), ("half headers", half_headers), ("silent", silent), ("idle", idle)]
    {
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).await.map(|_| rest)
        })
        .await;
        assert!(closed.is_ok(), "the {name} connection was still open after {:?}", started.elapsed());
    }
    // Well-behaved clients are still served.
    assert_eq!(app.send(app.client.get(app.url("/healthz"))).await.status, 200);
}

/// 3.3: an upstream reporting 2^63 − 1 tokens saturates the counters; another
/// owner's counts in the same batches are kept; every listing still answers 200.
async fn token_counts_saturate(engine: Engine) {
    let w = world(engine).await;
    let alice = w.credential("user:alice", "openai", None).await;
    let bob = w.credential("user:bob", "openai", None).await;
    let (alice_key_id, alice_key) = w.virtual_key("user:alice", &["openai"], None).await;
    let (_, bob_key) = w.virtual_key("user:bob", &["openai"], None).await;
    let ask = |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "Hi"}]});
    let (huge, normal) = (ask("huge-usage"), ask("gpt-4o-mini"));
    let both = || async {
        let (a, b) = tokio::join!(
            w.post_json("openai", "/v1/chat/completions", &alice_key, &huge),
            w.post_json("openai", "/v1/chat/completions", &bob_key, &normal),
        );
        assert_eq!((a.status, b.status), (200, 200), "{} {}", a.text, b.text);
    };

    assert_eq!(w.post_json("openai", "/v1/chat/completions", &alice_key, &ask("gpt-4o-mini")).await.status, 200);
    w.eventually(&format!("/v1/credentials/{alice}"), |v| v["usage"]["tokens_total"] == 14).await;
    both().await;
    w.eventually(&format!("/v1/credentials/{bob}"), |v| v["usage"]["tokens_total"] == 14).await;
    // A long history brings the counters near the top; the next huge report saturates.
    let near = (i64::MAX - 1000).to_string();
    let db = w.app.db();
    let sql = "UPDATE credential_tokens SET tokens_total = CAST($1 AS BIGINT), tokens_period = CAST($1 AS BIGINT) WHERE credential_id = $2";
    assert_eq!(db.execute(sql, &[&near, &alice]).await, 1);
    let sql = "UPDATE virtual_keys SET tokens_total = CAST($1 AS BIGINT), tokens_period = CAST($1 AS BIGINT) WHERE token_id = $2";
    assert_eq!(db.execute(sql, &[&near, &alice_key_id]).await, 1);
    both().await;

    let max = json!(i64::MAX);
    w.eventually(&format!("/v1/credentials/{bob}"), |v| v["usage"]["tokens_total"] == 28).await;
    let view = w.eventually(&format!("/v1/credentials/{alice}"), |v| v["usage"]["total"] == 3).await;
    assert_eq!((&view["usage"]["tokens_total"], &view["usage"]["tokens_period"]), (&max, &max));
    let key = w.app.get(&format!("/v1/tokens/{alice_key_id}"), &w.svc).await;
    assert_eq!(key.status, 200, "{}", key.text);
    assert_eq!((&key.body["usage"]["tokens_total"], &key.body["usage"]["tokens_period"]), (&max, &max));
    for path in ["/v1/credentials?owner=user:alice", "/v1/usage?owner=user:alice", "/v1/usage?owner=user:bob"] {
        let r = w.app.get(path, &w.svc).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    let usage = w.app.get("/v1/usage?owner=user:alice", &w.svc).await;
    assert_eq!(usage.body["items"][0]["tokens_total"], max);
}

/// 3.4: refused authentications at the proxy are audited, without the token.
async fn proxy_refusals_are_audited(engine: Engine) {
    let app = spawn_app(engine).await;
    let bogus = format!("byok_vk_{}", canary("").to_lowercase());
    let models = app.url("/v1/proxy/openai/v1/models");
    let r = app.send(app.client.get(&models).bearer_auth(&bogus)).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = app.send(app.client.get(app.url("/v1/proxy/openai/v1/chat/completions"))).await;
    assert_eq!(r.status, 401, "{}", r.text);

    let refused = audit(&app, "action=auth.refused").await;
    let details: Vec<&str> = refused.iter().filter_map(|e| e["detail"].as_str()).collect();
    assert!(details.contains(&"GET /v1/proxy/openai/v1/models"), "{details:?}");
    assert!(details.contains(&"GET /v1/proxy/openai/v1/chat/completions"), "{details:?}");
    assert!(refused.iter().all(|e| e["outcome"] == "denied" && e["actor_role"] == "anonymous"));
    let secret = &bogus["byok_vk_".len()..];
    assert!(!String::from_utf8_lossy(&app.db().all_bytes().await).contains(secret), "the token was stored");
}

/// 3.5: `byok token create` writes an audit entry naming the CLI.
async fn cli_token_create_is_audited(engine: Engine) {
    let db = TestDb::fresh(engine).await;
    let envs = [("DATABASE_URL", db.url.as_str()), ("BYOK_MASTER_KEY", TEST_KEY)];
    let created = byok(&envs, &["token", "create", "--role", "service", "--name", "backend"]);
    assert_eq!(created.status.code(), Some(0), "{}", String::from_utf8_lossy(&created.stderr));
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();

    let exported = byok(&envs, &["audit", "export"]);
    assert_eq!(exported.status.code(), Some(0), "{}", String::from_utf8_lossy(&exported.stderr));
    let lines = String::from_utf8(exported.stdout).unwrap();
    assert!(!lines.contains(&token[9..]), "the token is in the audit log");
    let entries: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let created: Vec<&Value> = entries.iter().filter(|e| e["action"] == "token.create").collect();
    assert_eq!(created.len(), 1, "{entries:?}");
    let entry = created[0];
    assert_eq!(
        (&entry["actor_token"], &entry["actor_role"], &entry["outcome"]),
        (&json!("cli"), &json!("operator"), &json!("ok"))
    );
    assert!(entry["detail"].as_str().unwrap().starts_with("service token "), "{entry}");
    let verify = byok(&envs, &["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", String::from_utf8_lossy(&verify.stderr));
}

/// 3.6: `PATCH … {"validate": true}` whose probe the provider refuses is audited.
async fn failed_validation_probe_is_audited(engine: Engine) {
    let w = world(engine).await;
    let id = w.credential("user:alice", "openai", None).await;
    let invalid = fields("openai", Scenario::Invalid).unwrap()["api_key"].clone();
    let r = w
        .app
        .patch(&format!("/v1/credentials/{id}"), &w.svc, json!({"fields": {"api_key": invalid}, "validate": true}))
        .await;
    r.assert_problem(422, "validation_failed");

    let entries = audit(&w.app, &format!("credential={id}&action=credential.test")).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!((&entries[0]["outcome"], &entries[0]["actor_role"]), (&json!("invalid"), &json!("service")));
    assert_eq!((&entries[0]["owner"], &entries[0]["provider"]), (&json!("user:alice"), &json!("openai")));
    let everything = audit(&w.app, "").await;
    assert!(!serde_json::to_string(&everything).unwrap().contains(&invalid), "the refused key is in the audit log");
    // Nothing was stored: still version 1.
    assert_eq!(w.app.get(&format!("/v1/credentials/{id}"), &w.svc).await.body["version"], 1);
}

/// The actions of changes, whose entries `refuse_change_entries` makes the database refuse.
const CHANGE_ACTIONS: &str = "'credential.create', 'credential.update', 'credential.delete', 'credential.rollback', \
                              'token.create', 'token.revoke', 'policy.update'";

/// Makes every insert of a change's audit entry fail, as a full disk or a lost
/// connection would at that moment.
async fn refuse_change_entries(db: &TestDb) {
    match db.engine {
        Engine::Sqlite => {
            let sql = format!(
                "CREATE TRIGGER refuse_change_entries BEFORE INSERT ON audit_log \
                 WHEN NEW.action IN ({CHANGE_ACTIONS}) BEGIN SELECT RAISE(ABORT, 'audit refused'); END"
            );
            db.execute(&sql, &[]).await;
        }
        Engine::Postgres => {
            let sql = format!(
                "CREATE FUNCTION refuse_change_entries() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.action IN ({CHANGE_ACTIONS}) THEN RAISE EXCEPTION 'audit refused'; END IF; RETURN NEW; END $$"
            );
            db.execute(&sql, &[]).await;
            let sql = "CREATE TRIGGER refuse_change_entries BEFORE INSERT ON audit_log FOR EACH ROW \
                       EXECUTE FUNCTION refuse_change_entries()";
            db.execute(sql, &[]).await;
        }
    }
}

/// 3.7: when a change's audit entry cannot be written, the change does not stand
/// either (API and CLI); the chain stays whole for the entries that follow.
async fn changes_stand_only_with_their_audit_entry(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = app.create_openai(&app.admin, Some("user:alice"), "sk-proj-audited-change").await;
    let r = app.post("/v1/tokens", &app.admin, json!({"role": "user", "owner": "user:alice"})).await;
    let (alice, alice_id) = (r.body["token"].as_str().unwrap().to_owned(), r.body["id"].as_str().unwrap().to_owned());
    let credential = format!("/v1/credentials/{id}");
    let label = app.get(&credential, &app.admin).await.body["label"].clone();
    let tokens_before = app.db().count("SELECT count(*) FROM tokens").await;
    refuse_change_entries(app.db()).await;

    let r = app.patch(&credential, &app.admin, json!({"label": "renamed", "enabled": false})).await;
    r.assert_problem(500, "internal");
    let stored = app.get(&credential, &app.admin).await;
    assert_eq!((&stored.body["label"], &stored.body["enabled"]), (&label, &json!(true)), "{}", stored.text);
    app.delete(&credential, &app.admin).await.assert_problem(500, "internal");
    assert_eq!(app.get(&credential, &app.admin).await.status, 200, "the credential was deleted without its entry");
    let r = app
        .post(
            "/v1/credentials",
            &app.admin,
            json!({"provider": "openai", "owner": "user:bob", "fields": {"api_key": "sk-proj-another-change"}}),
        )
        .await;
    r.assert_problem(500, "internal");
    assert_eq!(
        app.db().count("SELECT count(*) FROM credentials").await,
        1,
        "a credential was created without its entry"
    );
    app.post("/v1/tokens", &app.admin, json!({"role": "service"})).await.assert_problem(500, "internal");
    let r =
        app.post("/v1/tokens", &app.admin, json!({"role": "virtual", "owner": "user:alice", "providers": ["*"]})).await;
    r.assert_problem(500, "internal");
    assert_eq!(
        app.db().count("SELECT count(*) FROM tokens").await,
        tokens_before,
        "a token was created without its entry"
    );
    app.delete(&format!("/v1/tokens/{alice_id}"), &app.admin).await.assert_problem(500, "internal");
    assert_eq!(app.get("/v1/credentials", &alice).await.status, 200, "the token was revoked without its entry");
    let policy = "/v1/orgs/acme/policy";
    let r = app
        .send(app.client.put(app.url(policy)).bearer_auth(&app.admin).json(&json!({"allow_platform_fallback": false})))
        .await;
    r.assert_problem(500, "internal");
    assert_eq!(app.get(policy, &app.admin).await.body["allow_platform_fallback"], json!(true));

    let envs = [("DATABASE_URL", app.db().url.as_str()), ("BYOK_MASTER_KEY", TEST_KEY)];
    let disable = byok(&envs, &["credentials", "disable", &id]);
    assert_ne!(disable.status.code(), Some(0), "the CLI reported a change that could not be audited as done");
    assert!(
        String::from_utf8_lossy(&disable.stderr).contains("not done"),
        "{}",
        String::from_utf8_lossy(&disable.stderr)
    );
    assert_eq!(app.get(&credential, &app.admin).await.body["enabled"], json!(true));
    assert_eq!(app.db().count("SELECT count(*) FROM audit_log WHERE action = 'credential.disable'").await, 0);

    // Once entries can be written again, the same change stands with its entries and
    // the chain has no gap where the refused ones would have been.
    let drop = match engine {
        Engine::Sqlite => "DROP TRIGGER refuse_change_entries",
        Engine::Postgres => "DROP TRIGGER refuse_change_entries ON audit_log",
    };
    app.db().execute(drop, &[]).await;
    let r = app.patch(&credential, &app.admin, json!({"label": "renamed", "enabled": false})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let entries = audit(&app, &format!("credential={id}")).await;
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["credential.create", "credential.update", "credential.disable"], "{entries:?}");
    let verify = byok(&envs, &["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", String::from_utf8_lossy(&verify.stderr));
}

/// 3.9: a token in a refused request's path (or request id) is redacted in the audit
/// log, the server log and the answer alike.
async fn tokens_in_paths_are_redacted_everywhere(engine: Engine) {
    let app = spawn_app(engine).await;
    let token = app.service_token().await;
    let secret = &token[9..];
    let r = app
        .send(app.client.get(app.url(&format!("/v1/tokens/{token}"))).header("x-request-id", format!("id-{token}")))
        .await;
    r.assert_problem(401, "unauthorized");
    let r = app.send(app.client.get(app.url(&format!("/v1/tokens/{}", token.replace('_', "%5F"))))).await;
    r.assert_problem(401, "unauthorized");

    let refused = audit(&app, "action=auth.refused").await;
    let details: Vec<&str> = refused.iter().filter_map(|e| e["detail"].as_str()).collect();
    assert_eq!(details.iter().filter(|d| **d == "GET /v1/tokens/[redacted]").count(), 2, "{details:?}");
    assert!(refused.iter().any(|e| e["request_id"] == "[redacted]"), "{refused:?}");
    assert!(!String::from_utf8_lossy(&app.db().all_bytes().await).contains(secret), "the token was stored");
    assert!(!crate::support::captured_logs().contains(secret), "the token was logged");
}

/// 3.10: an admin token byok would always refuse stops start-up instead.
#[test]
fn admin_token_is_validated_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/byok.db", dir.path().display());
    let long = format!("byok_adm_{}", "a".repeat(120));
    let spaced = format!("byok_adm_{} ", "a".repeat(64));
    for bad in [long.as_str(), spaced.as_str(), "byok_adm_short"] {
        let out = byok(
            &[("DATABASE_URL", &db), ("BYOK_MASTER_KEY", TEST_KEY), ("BYOK_ADMIN_TOKEN", bad)],
            &["serve", "--listen", "127.0.0.1:0"],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one clear line: {err}");
        assert!(err.contains("BYOK_ADMIN_TOKEN is not a byok admin token"), "{err}");
        assert!(!err.contains("aaaa"), "the token was echoed: {err}");
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "no database was created");
}

/// 3.11: an unknown query parameter's name is never echoed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_query_names_are_not_echoed() {
    let app = spawn_app(Engine::Sqlite).await;
    let svc = app.service_token().await;
    let secret = canary("sk-proj-");
    for path in [
        format!("/v1/credentials?{secret}=1"),
        format!("/v1/usage?owner=user:a&{secret}"),
        format!("/v1/audit?{secret}=x"),
    ] {
        let token = if path.starts_with("/v1/audit") { app.admin.clone() } else { svc.clone() };
        let r = app.get(&path, &token).await;
        r.assert_problem(400, "invalid_query");
        assert!(!r.everything().contains("CANARY"), "{path}: {}", r.text);
    }
}

/// 3.13: overrides and `[[providers]]` base URLs at addresses that embed a private
/// IPv4 address refuse start-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssrf_guard_refuses_embedded_private_ipv4_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let config = |providers: Option<Vec<byok_core::ProviderSpec>>| {
        Config::from_layer(Layer {
            master_key: Some(TEST_KEY.to_owned()),
            database_url: Some(format!("sqlite://{}/byok.db", dir.path().display())),
            providers,
            ..Layer::default()
        })
        .unwrap()
    };
    for origin in [
        "http://[::127.0.0.1]:8080",
        "http://[2002:a9fe:a9fe::1]",
        "http://[64:ff9b:1::a00:1]",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]",
    ] {
        let err = open_state_with_env(&config(None), &[("BYOK_PROVIDER_OPENAI_BASE_URL", origin)]).await.err();
        let err = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("loopback, private or link-local"), "{origin} was accepted: {err}");
    }
    for origin in ["http://127.0.0.1:9", "http://[::ffff:10.0.0.1]", "http://[::10.0.0.1]"] {
        let spec: byok_core::ProviderSpec = serde_json::from_value(json!({
            "id": "acme-llm", "name": "Acme LLM", "category": "llm", "base_url": origin,
            "fields": [{"name": "api_key", "label": "API key", "secret": true, "required": true}],
            "auth": {"type": "bearer"},
            "probe": {"path": "/v1/models", "errors": {"code": ["/error/code"], "message": ["/error/message"]}}
        }))
        .unwrap();
        let err = open_state_with_env(&config(Some(vec![spec])), &[]).await.err();
        let err = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("base URL of provider `acme-llm`"), "{origin} was accepted: {err}");
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "no database was created");
}
