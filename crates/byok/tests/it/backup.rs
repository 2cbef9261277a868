//! `byok backup FILE`: a consistent copy of a SQLite store taken while `byok serve`
//! answers, which restores into a working byok; PostgreSQL is pointed to pg_dump.

use std::collections::HashMap;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use byok::config::Layer;
use byok_crypto::generate_token;
use serde_json::{Value, json};

use crate::support::{Engine, ServeProcess, TEST_KEY, TestDb, canary, spawn_on};

fn byok(args: &[&str], database_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_byok"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("BYOK_MASTER_KEY", TEST_KEY)
        .output()
        .expect("byok runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Each credential's `usage.total`, by id.
async fn usage_totals(client: &reqwest::Client, base: &str, admin: &str) -> HashMap<String, i64> {
    let r: Value = client
        .get(format!("{base}/v1/credentials?limit=100"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = r["items"].as_array().unwrap_or_else(|| panic!("no credentials: {r}"));
    items.iter().map(|c| (c["id"].as_str().unwrap().to_owned(), c["usage"]["total"].as_i64().unwrap())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_serving_restores_every_credential_and_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let live_url = format!("sqlite://{}", dir.path().join("byok.db").display());
    let admin = generate_token("byok_adm_");
    let server = ServeProcess::start(&[
        ("DATABASE_URL", &live_url),
        ("BYOK_MASTER_KEY", TEST_KEY),
        ("BYOK_ADMIN_TOKEN", &admin),
        ("BYOK_REVERIFY_INTERVAL_SECS", "0"),
    ]);
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let post = |path: &str, token: &str, body: Value| {
        client.post(format!("{base}{path}")).bearer_auth(token).json(&body).send()
    };
    let r: Value = post("/v1/tokens", &admin, json!({"role": "service"})).await.unwrap().json().await.unwrap();
    let service = r["token"].as_str().unwrap().to_owned();

    // Three owners' secrets, each a canary, and the resolve request that picks each.
    let mut secrets = Vec::new();
    for (owner, provider, prefix, resolve) in [
        ("user:alice", "openai", "sk-", json!({"provider": "openai", "user": "alice"})),
        ("user:bob", "anthropic", "sk-ant-", json!({"provider": "anthropic", "user": "bob"})),
        ("org:acme", "groq", "gsk_", json!({"provider": "groq", "org": "acme"})),
    ] {
        let secret = canary(prefix);
        let body =
            json!({"owner": owner, "provider": provider, "fields": {"api_key": secret}, "monthly_limit": 1_000_000});
        let r = post("/v1/credentials", &service, body).await.unwrap();
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        secrets.push((id, secret, resolve));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let resolver = {
        let (stop, served, failed) = (stop.clone(), served.clone(), failed.clone());
        let (client, base, service) = (client.clone(), base.clone(), service.clone());
        let requests: Vec<(String, Value)> = secrets.iter().map(|(_, s, r)| (s.clone(), r.clone())).collect();
        tokio::spawn(async move {
            for (secret, request) in requests.iter().cycle() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let answer = client.post(format!("{base}/v1/resolve")).bearer_auth(&service).json(request).send().await;
                let body = match answer {
                    Ok(r) if r.status() == 200 => r.json::<Value>().await.ok(),
                    _ => None,
                };
                let right = body.is_some_and(|b| b["fields"]["api_key"] == json!(secret));
                (if right { &served } else { &failed }).fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while served.load(Ordering::Relaxed) < 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let before = usage_totals(&client, &base, &admin).await;
    let backup_path = dir.path().join("backup.db");
    let (url, path) = (live_url.clone(), backup_path.display().to_string());
    let out = tokio::task::spawn_blocking(move || byok(&["backup", &path], &url)).await.unwrap();
    assert!(out.status.success(), "byok backup failed: {}", stderr(&out));
    let after = usage_totals(&client, &base, &admin).await;
    let during = served.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    resolver.await.unwrap();
    assert_eq!(failed.load(Ordering::Relaxed), 0, "resolves failed while the backup ran");
    assert!(served.load(Ordering::Relaxed) > during, "resolves went on after the backup");
    drop(server);

    let bytes = std::fs::read(&backup_path).unwrap();
    for (_, secret, _) in &secrets {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret is in the backup in clear");
    }
    assert!(!bytes.windows(service.len()).any(|w| w == service.as_bytes()), "a token is in the backup in clear");

    // Restored into a fresh place, it is a working byok as of the backup.
    let restored = TestDb::fresh(Engine::Sqlite).await;
    std::fs::copy(&backup_path, restored.sqlite_path.as_ref().unwrap()).unwrap();
    let out = byok(&["audit", "verify"], &restored.url);
    assert!(out.status.success(), "audit verify of the restored copy: {}", stderr(&out));
    let keys = Layer { master_key: Some(TEST_KEY.to_owned()), reverify_interval_secs: Some(0), ..Layer::default() };
    let app = spawn_on(restored, keys).await;
    let restored_usage = usage_totals(&app.client, &app.base, &app.admin).await;
    for (id, _, _) in &secrets {
        let got = restored_usage[id];
        assert!(
            before[id] <= got && got <= after[id],
            "{id}: usage {got} is not between {} and {}",
            before[id],
            after[id]
        );
    }
    for (id, secret, request) in &secrets {
        let r = app.post("/v1/resolve", &service, request.clone()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["credential_id"], json!(id));
        assert_eq!(r.body["fields"]["api_key"], json!(secret), "{id} opens to its secret");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("byok.db").display());
    assert!(byok(&["token", "create", "--role", "service"], &url).status.success());
    let target = dir.path().join("existing");
    std::fs::write(&target, b"keep me").unwrap();
    let out = byok(&["backup", target.to_str().unwrap()], &url);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_a_missing_database_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("nowhere.db");
    let target = dir.path().join("copy.db");
    let out = byok(&["backup", target.to_str().unwrap()], &format!("sqlite://{}", source.display()));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(!source.exists() && !target.exists(), "a file was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_without_a_file_is_a_usage_error() {
    let out = byok(&["backup"], "sqlite://unused.db");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_postgresql_points_to_pg_dump() {
    let db = TestDb::fresh(Engine::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("copy.dump");
    let out = byok(&["backup", target.to_str().unwrap()], &db.url);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("pg_dump -Fc") && message.contains("pg_restore"), "{message}");
    assert!(!target.exists(), "a file was created");
}
