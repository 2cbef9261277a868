//! `byok import`: plaintext and legacy `iv:authTag:ciphertext` lines.

use std::process::Command;

use crate::both_engines;
use crate::support::{Engine, TEST_KEY, TestDb, canary};

// Made with Node's crypto (aes-256-gcm), key = 32 bytes of 7.
const LEGACY_KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";
const LEGACY_12: &str =
    "030303030303030303030303:bbb8980ed44e80c196d45b42931021dd:56958e6f3f4f3f21036d303988259a78c00cd1dd87a1a14618e6be";
const LEGACY_16: &str = "03030303030303030303030303030303:33e0d26a3dd225aa81548b23c894beac:7214682c1ff984fe9e3bdb8ff498b232311c0b5072ce2f4d8cd180";
// Same format, but under another key (32 bytes of 9): "sk-ant-legacy-other-key-abcdef".
const OTHER_KEYED: &str = "050505050505050505050505:aaa1402b1109a5738ea32d3522011205:bc1c9b3765ac31212743349da442060169a9c0bddeb6cfe1631675c50f91";

both_engines!(import_plaintext_and_legacy_lines, batched_import_writes_each_good_line_once);

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

/// `--batch-size 3`: a line that fails its checks is reported and skipped; a line the
/// database refuses (a duplicate inside the batch, and one of a stored credential) fails
/// its batch's multi-row insert, which is then written line by line: only that line is lost.
async fn batched_import_writes_each_good_line_once(engine: Engine) {
    let db = TestDb::fresh(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = canary("sk-");
    let line = |owner: &str, key: &str| {
        format!(r#"{{"owner": "user:{owner}", "provider": "openai", "fields": {{"api_key": "{key}"}}}}"#)
    };
    let first = dir.path().join("first.jsonl");
    std::fs::write(&first, line("zed", "sk-already-stored-0123456789")).unwrap();
    assert_eq!(import(&db, &first, &[]).0, Some(0));

    let lines = [
        line("u1", "sk-batch-key-one-0123451111"),
        line("u2", "sk-batch-key-two-0123456789"),
        r#"{"owner": "user:u3", "provider": "openai""#.to_owned(),
        line("u4", &secret),
        line("u1", "sk-batch-key-dup-0123459999"),
        line("u5", "sk-batch-key-five-0123456789"),
        line("zed", "sk-batch-key-zed-0123456789"),
        line("u6", "sk-batch-key-six-0123456789"),
    ];
    let file = dir.path().join("keys.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (code, out, err) = import(&db, &file, &["--batch-size", "3"]);
    assert_eq!(code, Some(1), "{out}{err}");
    for n in [1, 2, 4, 6, 8] {
        assert!(out.contains(&format!("line {n}: imported user:u")), "line {n}: {out}");
    }
    assert!(out.contains("line 3: error: not a valid import line"), "{out}");
    for n in [5, 7] {
        assert!(
            out.contains(&format!(
                "line {n}: error: conflict: this owner already has a credential with that provider and label"
            )),
            "line {n}: {out}"
        );
    }
    assert!(out.contains("imported 5, failed 3"), "{out}");
    let reported: Vec<&str> = out.lines().filter_map(|l| l.split(':').next()).collect();
    assert_eq!(reported[..8], ["line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7", "line 8"]);

    assert_eq!(db_count(&db).await, 6);
    assert_eq!(db.count("SELECT count(*) FROM credential_versions").await, 6);
    assert_eq!(db.count("SELECT count(*) FROM credentials WHERE owner = 'user:u1'").await, 1);
    assert_eq!(db.count("SELECT count(*) FROM audit_log WHERE action = 'credential.import'").await, 6);
    assert!(!out.contains(&secret) && !err.contains(&secret), "the secret was printed");
    let bytes = String::from_utf8_lossy(&db.all_bytes().await).into_owned();
    assert!(!bytes.contains(&secret), "imported secrets are sealed");
    let kept = "SELECT count(*) FROM credentials WHERE owner = 'user:u1' AND secret_hints LIKE '%1111%'";
    assert_eq!(db.count(kept).await, 1, "the first of the duplicates was kept");
}

async fn db_count(db: &TestDb) -> i64 {
    db.count("SELECT count(*) FROM credentials").await
}
