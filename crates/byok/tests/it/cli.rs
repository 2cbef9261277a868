//! The `byok` binary: exit codes, start-up refusals, `--dev`, and a real serve.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::both_engines;
use crate::support::{Engine, OTHER_KEY, TEST_KEY, TestDb};

fn byok(dir: &Path, envs: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_byok"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("byok runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn missing_and_malformed_keys_fail_before_touching_anything() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/byok.db", dir.path().display());
    for (envs, expected) in [
        (vec![("DATABASE_URL", db.as_str())], "no master key"),
        (vec![("DATABASE_URL", db.as_str()), ("BYOK_MASTER_KEY", "not-hex")], "malformed master key"),
        (vec![("DATABASE_URL", db.as_str()), ("BYOK_MASTER_KEY", &TEST_KEY[..40])], "malformed master key"),
        (vec![("DATABASE_URL", db.as_str()), ("BYOK_MASTER_KEYS", "k1")], "malformed BYOK_MASTER_KEYS"),
    ] {
        for args in [&["serve"][..], &["token", "create", "--role", "admin"][..]] {
            let out = byok(dir.path(), &envs, args);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "one clear line: {err}");
            assert!(err.contains(expected), "{err}");
            assert!(out.stdout.is_empty());
        }
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "no database was created");
}

both_engines!(wrong_key_fails_and_writes_nothing);

async fn wrong_key_fails_and_writes_nothing(engine: Engine) {
    let db = TestDb::fresh(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let good = [("DATABASE_URL", db.url.as_str()), ("BYOK_MASTER_KEY", TEST_KEY)];
    let out = byok(dir.path(), &good, &["token", "create", "--role", "admin"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("byok_adm_"));

    let wrong = [("DATABASE_URL", db.url.as_str()), ("BYOK_MASTER_KEY", OTHER_KEY)];
    for args in [&["token", "create", "--role", "service"][..], &["serve", "--listen", "127.0.0.1:0"][..]] {
        let out = byok(dir.path(), &wrong, args);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("is not the key this database was sealed with"), "{}", stderr(&out));
    }
    assert_eq!(db.count("SELECT count(*) FROM tokens").await, 1, "the wrong key wrote nothing");
    assert_eq!(db.count("SELECT count(*) FROM key_checks").await, 1);
}

#[test]
fn usage_errors_exit_2_and_keygen_and_providers_work() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(byok(dir.path(), &[], &["frobnicate"]).status.code(), Some(2));
    assert_eq!(byok(dir.path(), &[], &["token", "create", "--role", "root"]).status.code(), Some(2));
    let a = byok(dir.path(), &[], &["keygen"]);
    let b = byok(dir.path(), &[], &["keygen"]);
    let key = String::from_utf8(a.stdout).unwrap();
    assert_eq!(key.trim().len(), 64);
    assert!(key.trim().chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(key, String::from_utf8(b.stdout).unwrap());
    let providers = String::from_utf8(byok(dir.path(), &[], &["providers"]).stdout).unwrap();
    for id in [
        "openai",
        "anthropic",
        "gemini",
        "groq",
        "openrouter",
        "stability",
        "runway",
        "exa",
        "twilio",
        "resend",
        "aws",
        "azure",
        "gcp",
    ] {
        assert!(providers.lines().any(|l| l.starts_with(id)), "{id} missing from:\n{providers}");
    }
}

#[test]
fn dev_mode_serves_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let out = byok(dir.path(), &[], &["--dev", "token", "create", "--role", "admin"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("DEVELOPMENT MODE"));
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let key = dir.path().join(".byok/master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(dir.path().join(".byok/byok.db").exists());

    let mut child = Command::new(env!("CARGO_BIN_EXE_byok"))
        .args(["serve", "--dev", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_clear()
        .env("BYOK_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("byok logs its address").unwrap();
        if let Some(rest) = line.split("byok listening on http://").nth(1) {
            break rest.split('"').next().unwrap().to_owned();
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let health = client.get(format!("http://{addr}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let listed = client.get(format!("http://{addr}/v1/credentials")).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(listed.status(), 200, "a token minted with --dev works against serve --dev");
    });
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "byok did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("byok stopped")), "{rest:?}");
}

both_engines!(import_env_prints_hints_only_and_imports_once);

async fn import_env_prints_hints_only_and_imports_once(engine: Engine) {
    let db = TestDb::fresh(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let openai = crate::support::canary("sk-proj-");
    let anthropic = crate::support::canary("sk-ant-");
    // One from the process environment, one from ./.env.
    std::fs::write(dir.path().join(".env"), format!("ANTHROPIC_API_KEY={anthropic}\n")).unwrap();
    let envs = [("DATABASE_URL", db.url.as_str()), ("BYOK_MASTER_KEY", TEST_KEY), ("OPENAI_API_KEY", openai.as_str())];

    let dry = byok(dir.path(), &envs, &["import-env", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let out = String::from_utf8(dry.stdout.clone()).unwrap();
    assert!(out.contains("openai") && out.contains("(from OPENAI_API_KEY): would import"), "{out}");
    assert!(out.contains("anthropic") && out.contains("(from ANTHROPIC_API_KEY): would import"), "{out}");
    assert!(out.contains(&format!("sk-…{}", &openai[openai.len() - 4..])), "{out}");
    for secret in [&openai, &anthropic] {
        assert!(!out.contains(secret.as_str()) && !stderr(&dry).contains(secret.as_str()), "a secret was printed");
    }
    assert_eq!(db.count("SELECT count(*) FROM credentials").await, 0, "a dry run writes nothing");

    let real = byok(dir.path(), &envs, &["import-env"]);
    assert_eq!(real.status.code(), Some(0), "{}", stderr(&real));
    let out = String::from_utf8(real.stdout).unwrap();
    assert_eq!(out.matches(": imported as ").count(), 2, "{out}");
    assert_eq!(db.count("SELECT count(*) FROM credentials WHERE owner = 'platform'").await, 2);
    let again = String::from_utf8(byok(dir.path(), &envs, &["import-env"]).stdout).unwrap();
    assert_eq!(again.matches("already imported").count(), 2, "{again}");
    assert_eq!(db.count("SELECT count(*) FROM credentials").await, 2);
    let bytes = String::from_utf8_lossy(&db.all_bytes().await).into_owned();
    assert!(!bytes.contains(&openai) && !bytes.contains(&anthropic), "imported secrets are sealed");
}
