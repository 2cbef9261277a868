//! `byok import`: plaintext and legacy `iv:authTag:ciphertext` lines.

use std::process::Command;

use crate::both_engines;
use crate::support::{Engine, TEST_KEY, TestDb};

// Made with Node's crypto (aes-256-gcm), key = 32 bytes of 7.
const LEGACY_KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";
const LEGACY_12: &str =
    "030303030303030303030303:bbb8980ed44e80c196d45b42931021dd:56958e6f3f4f3f21036d303988259a78c00cd1dd87a1a14618e6be";
const LEGACY_16: &str = "03030303030303030303030303030303:33e0d26a3dd225aa81548b23c894beac:7214682c1ff984fe9e3bdb8ff498b232311c0b5072ce2f4d8cd180";
// Same format, but under another key (32 bytes of 9): "sk-ant-legacy-other-key-abcdef".
const OTHER_KEYED: &str = "050505050505050505050505:aaa1402b1109a5738ea32d3522011205:bc1c9b3765ac31212743349da442060169a9c0bddeb6cfe1631675c50f91";

both_engines!(import_plaintext_and_legacy_lines);

fn import(db: &TestDb, file: &std::path::Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_byok"))
        .arg("import")
        .arg(file)
        .args(["--legacy-key-env", "LEGACY_KEY"])
        .args(extra)
        .env_clear()
        .env("BYOK_MASTER_KEY", TEST_KEY)
        .env("DATABASE_URL", &db.url)
        .env("LEGACY_KEY", LEGACY_KEY)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

async fn import_plaintext_and_legacy_lines(engine: Engine) {
    let db = TestDb::fresh(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.jsonl");
    let lines = [
        r#"{"owner": "user:alice", "provider": "groq", "fields": {"api_key": "gsk_plaintextkey0123456789"}}"#
            .to_owned(),
        format!(
            r#"{{"owner": "user:bob", "provider": "openai", "label": "legacy", "fields": {{"api_key": "{LEGACY_12}"}}}}"#
        ),
        format!(r#"{{"owner": "org:acme", "provider": "openai", "fields": {{"api_key": "{LEGACY_16}"}}}}"#),
        format!(r#"{{"owner": "user:carol", "provider": "anthropic", "fields": {{"api_key": "{OTHER_KEYED}"}}}}"#),
        r#"{"owner": "user:dave", "provider": "nope", "fields": {"api_key": "x"}}"#.to_owned(),
        r#"{"owner": "user:erin", "provider": "openai", "fields": {"api_key": "sk-half"#.to_owned(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();

    let (code, out, _) = import(&db, &file, &["--dry-run"]);
    assert_eq!(code, Some(1), "a failing line makes the command fail: {out}");
    assert!(out.contains("line 1: would import user:alice groq"), "{out}");
    assert_eq!(db_count(&db).await, 0, "a dry run writes nothing");

    let (code, out, err) = import(&db, &file, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(out.contains("line 1: imported user:alice groq"), "{out}");
    assert!(out.contains("line 2: imported user:bob openai \"legacy\" api_key=sk-…6789"), "{out}");
    assert!(out.contains("line 3: imported org:acme openai"), "{out}");
    assert!(
        out.contains(
            "line 4: error: fields.api_key: the legacy ciphertext did not decrypt (wrong key or altered data)"
        ),
        "{out}"
    );
    assert!(out.contains("line 5: error: unknown provider"), "{out}");
    assert!(out.contains("line 6: error: not a valid import line"), "{out}");
    assert!(out.contains("imported 3, failed 3"), "{out}");
    for secret in ["gsk_plaintextkey0123456789", "sk-legacy-secret-0123456789", "sk-ant-legacy-other-key", "sk-half"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{secret} was printed");
    }
    assert_eq!(db_count(&db).await, 3, "nothing of a failed line was written");
    assert_eq!(db.count("SELECT count(*) FROM credentials WHERE owner = 'user:carol'").await, 0);
    let bytes = String::from_utf8_lossy(&db.all_bytes().await).into_owned();
    assert!(
        !bytes.contains("sk-legacy-secret-0123456789") && !bytes.contains("gsk_plaintextkey0123456789"),
        "imported secrets are sealed"
    );
    assert_eq!(db.count("SELECT count(*) FROM audit_log WHERE action = 'credential.import'").await, 3);
}

async fn db_count(db: &TestDb) -> i64 {
    db.count("SELECT count(*) FROM credentials").await
}
