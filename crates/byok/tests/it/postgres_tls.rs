//! PostgreSQL over TLS, against clusters of the tests' own (`pg_cluster`): every
//! connection byok opens (the pool's and the metering writer's) is encrypted and
//! checked as `sslmode` says, and what it refuses stops start-up with one clear line.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use byok_crypto::generate_token;
use serde_json::json;

use crate::pg_cluster::{PgCluster, make_ca};
use crate::support::{ServeProcess, TEST_KEY, canary};

const DB: &str = "byok_tls";

/// byok's connections to `DB`: (application_name, encrypted), the observer's left out.
async fn byok_backends(observer: &tokio_postgres::Client) -> Vec<(String, bool)> {
    let sql = "SELECT a.application_name::text, s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
               WHERE a.datname = $1 AND a.pid <> pg_backend_pid() ORDER BY 1";
    observer.query(sql, &[&DB]).await.unwrap().iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// Starts `byok serve` on `url`, stores a credential through it and resolves it (so
/// that the pool and the metering writer both connect); answers the process.
async fn serve_and_resolve(url: &str) -> ServeProcess {
    let admin = generate_token("byok_adm_");
    let byok =
        ServeProcess::start(&[("BYOK_MASTER_KEY", TEST_KEY), ("DATABASE_URL", url), ("BYOK_ADMIN_TOKEN", &admin)]);
    let client = reqwest::Client::new();
    let post = |path: &str, token: &str, body: serde_json::Value| {
        client.post(format!("{}{path}", byok.base)).bearer_auth(token.to_owned()).json(&body).send()
    };
    let minted: serde_json::Value =
        post("/v1/tokens", &admin, json!({"role": "service"})).await.unwrap().json().await.unwrap();
    let svc = minted["token"].as_str().unwrap().to_owned();
    let secret = canary("sk-");
    let user = uuid::Uuid::new_v4().simple().to_string();
    let body = json!({"owner": format!("user:{user}"), "provider": "openai", "fields": {"api_key": secret}});
    assert_eq!(post("/v1/credentials", &svc, body).await.unwrap().status(), 201);
    let resolved = post("/v1/resolve", &svc, json!({"provider": "openai", "user": user})).await.unwrap();
    assert_eq!(resolved.status(), 200);
    let resolved: serde_json::Value = resolved.json().await.unwrap();
    assert_eq!(resolved["fields"]["api_key"], secret.as_str());
    byok
}

/// Runs `byok serve` on `url`, which must refuse to start: answers its one line of stderr.
fn refused_start(url: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_byok"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("BYOK_MASTER_KEY", TEST_KEY)
        .env("BYOK_ADMIN_TOKEN", generate_token("byok_adm_"))
        .env("DATABASE_URL", url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("byok starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("byok started on {url}, which it must refuse");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr, not: {stderr}");
    lines[0].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_encrypts_every_connection_byok_opens() {
    let cluster = PgCluster::with_tls("DNS:localhost,IP:127.0.0.1");
    let observer = cluster.create_database(DB).await;
    let query = format!("?sslmode=verify-full&sslrootcert={}", cluster.ca().display());
    let byok = serve_and_resolve(&cluster.url("postgres", "localhost", DB, &query)).await;
    let backends = byok_backends(&observer).await;
    assert!(backends.len() > 1, "the pool and the metering writer are connected: {backends:?}");
    for name in ["byok", "byok-metering"] {
        assert!(backends.iter().any(|(n, _)| n == name), "no {name} connection: {backends:?}");
    }
    assert!(backends.iter().all(|(_, ssl)| *ssl), "a connection is not encrypted: {backends:?}");
    drop(byok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_certificate_for_another_host() {
    let cluster = PgCluster::with_tls("DNS:db.elsewhere.example");
    let observer = cluster.create_database(DB).await;
    let password = canary("pw");
    let user_info = format!("postgres:{password}");
    let ca = cluster.ca().display().to_string();
    let url =
        |mode: &str, ca: &str| cluster.url(&user_info, "localhost", DB, &format!("?sslmode={mode}&sslrootcert={ca}"));

    let line = refused_start(&url("verify-full", &ca));
    assert!(line.starts_with("byok: cannot open the database: PostgreSQL over TLS (sslmode=verify-full): "), "{line}");
    assert!(line.contains("not valid for name") && line.contains("localhost"), "{line}");
    assert!(!line.contains(&password), "the URL's password is echoed: {line}");

    // The chain is sound: verify-ca, which does not check the name, takes it on every connection.
    let byok = serve_and_resolve(&url("verify-ca", &ca)).await;
    let backends = byok_backends(&observer).await;
    assert!(backends.iter().any(|(n, _)| n == "byok-metering"), "{backends:?}");
    assert!(backends.iter().all(|(_, ssl)| *ssl), "{backends:?}");
    drop(byok);

    // …and a certificate from a CA not given is refused by verify-ca too.
    let other = tempfile::tempdir().unwrap();
    let line = refused_start(&url("verify-ca", &make_ca(other.path()).display().to_string()));
    assert!(line.contains("(sslmode=verify-ca): invalid peer certificate"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_against_a_server_without_tls_fails_with_one_clear_line() {
    let cluster = PgCluster::plain();
    cluster.create_database(DB).await;
    let password = canary("pw");
    let line = refused_start(&cluster.url(&format!("postgres:{password}"), "localhost", DB, "?sslmode=require"));
    assert_eq!(
        line,
        "byok: cannot open the database: PostgreSQL over TLS (sslmode=require): server does not support TLS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_still_works_against_a_server_without_tls() {
    let cluster = PgCluster::plain();
    let observer = cluster.create_database(DB).await;
    let byok = serve_and_resolve(&cluster.url("postgres", "localhost", DB, "?sslmode=disable")).await;
    let backends = byok_backends(&observer).await;
    assert!(backends.iter().any(|(n, _)| n == "byok-metering"), "{backends:?}");
    assert!(backends.iter().all(|(_, ssl)| !*ssl), "{backends:?}");
    drop(byok);
    // prefer, the default, falls back to plain connections as libpq does.
    let byok = serve_and_resolve(&cluster.url("postgres", "localhost", DB, "")).await;
    drop(byok);
}

#[test]
fn a_bad_sslmode_is_a_clear_error() {
    let password = canary("pw");
    let line = refused_start(&format!("postgres://byok:{password}@127.0.0.1:1/byok?sslmode=verify_full"));
    assert_eq!(
        line,
        "byok: cannot open the database: DATABASE_URL: sslmode must be one of disable, prefer, require, verify-ca, verify-full"
    );
}
