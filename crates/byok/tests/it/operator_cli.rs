//! The operator's command line against the database a service uses: credentials and
//! tokens listed without secrets, changed and audited as the API would, and clear
//! exit codes on bad input.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::both_engines;
use crate::support::{Engine, TEST_KEY, TestApp, canary, spawn_app};

/// Runs `byok ARGS` against `url` with the test key, from an empty directory.
pub fn byok_on(url: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_byok"))
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .env("BYOK_MASTER_KEY", TEST_KEY)
        .stdin(Stdio::null())
        .output()
        .expect("byok runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a failure with exit status `code` and one line on stderr containing `text`.
fn assert_fails(o: &Output, code: i32, text: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(err.contains(text), "expected `{text}` in: {err}");
    if code == 1 {
        assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    }
    assert!(o.stdout.is_empty(), "{}", stdout(o));
}

async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/v1/audit?{query}"), &app.admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

both_engines!(credentials_are_listed_changed_and_audited_from_the_command_line, tokens_are_listed_and_revoked);

async fn credentials_are_listed_changed_and_audited_from_the_command_line(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let (alice_key, acme_key) = (canary("sk-proj-"), canary("sk-ant-"));
    let alice = app.create_openai(&svc, Some("user:alice"), &alice_key).await;
    let r = app
        .post(
            "/v1/credentials",
            &svc,
            json!({"owner": "org:acme", "provider": "anthropic", "label": "Team key", "fields": {"api_key": acme_key}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let acme = r.body["id"].as_str().unwrap().to_owned();
    let url = app.db().url.clone();
    let mut seen = String::new();

    let all = byok_on(&url, &["credentials", "list"]);
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    let lines: Vec<String> = stdout(&all).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let alice_line = lines.iter().find(|l| l.starts_with(&alice)).expect("alice's credential listed");
    assert!(alice_line.contains(" user:alice openai ") && alice_line.contains(" enabled "), "{alice_line}");
    assert!(alice_line.ends_with(&format!("api_key=sk-…{}", &alice_key[alice_key.len() - 4..])), "{alice_line}");
    let acme_line = lines.iter().find(|l| l.starts_with(&acme)).unwrap();
    assert!(acme_line.contains(" org:acme anthropic \"Team key\" unverified enabled api_key="), "{acme_line}");
    seen += &stdout(&all);

    let only_alice = byok_on(&url, &["credentials", "list", "--owner", "user:alice"]);
    assert_eq!(stdout(&only_alice).lines().collect::<Vec<_>>(), vec![alice_line.as_str()]);
    let only_anthropic = byok_on(&url, &["credentials", "list", "--provider", "anthropic", "--json"]);
    let json_lines: Vec<Value> = stdout(&only_anthropic).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(json_lines.len(), 1);
    assert_eq!(json_lines[0]["id"], acme.as_str());
    assert_eq!(json_lines[0]["owner"], "org:acme");
    assert_eq!(json_lines[0]["enabled"], true);
    assert!(json_lines[0]["secret_hints"]["api_key"].as_str().unwrap().starts_with("sk-…"));
    let none = byok_on(&url, &["credentials", "list", "--owner", "user:alice", "--provider", "anthropic"]);
    assert_eq!((none.status.code(), stdout(&none)), (Some(0), String::new()));
    let shown = byok_on(&url, &["credentials", "show", &alice, "--json"]);
    let shown_json: Value = serde_json::from_str(stdout(&shown).trim()).unwrap();
    assert_eq!(shown_json["id"], alice.as_str());
    seen += &stdout(&only_anthropic);
    seen += &stdout(&shown);

    let disabled = byok_on(&url, &["credentials", "disable", &alice]);
    assert_eq!(disabled.status.code(), Some(0), "{}", stderr(&disabled));
    assert_eq!(stdout(&disabled).trim(), format!("credential {alice} disabled"));
    let r = app.get(&format!("/v1/credentials/{alice}"), &svc).await;
    assert_eq!((r.body["enabled"].as_bool(), r.body["status"].as_str()), (Some(false), Some("disabled")));
    let again = byok_on(&url, &["credentials", "disable", &alice]);
    assert_eq!(stdout(&again).trim(), format!("credential {alice} is already disabled"));
    let shown = byok_on(&url, &["credentials", "show", &alice]);
    assert!(stdout(&shown).contains(" disabled disabled api_key="), "{}", stdout(&shown));

    // The API disables acme's credential: the entries look alike but for the actor.
    let r = app.patch(&format!("/v1/credentials/{acme}"), &svc, json!({"enabled": false})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let by_cli = entries(&app, &format!("credential={alice}&action=credential.disable")).await;
    let by_api = entries(&app, &format!("credential={acme}&action=credential.disable")).await;
    assert_eq!((by_cli.len(), by_api.len()), (1, 1), "one disable entry each (not for the no-op)");
    for key in ["action", "outcome", "detail"] {
        assert_eq!(by_cli[0][key], by_api[0][key], "{key}");
    }
    assert_eq!((by_cli[0]["owner"].as_str(), by_cli[0]["provider"].as_str()), (Some("user:alice"), Some("openai")));
    assert_eq!(
        (by_cli[0]["actor_role"].as_str(), by_api[0]["actor_role"].as_str()),
        (Some("operator"), Some("service"))
    );
    let updates = entries(&app, &format!("credential={alice}&action=credential.update")).await;
    assert_eq!(updates.len(), 1);
    assert_eq!(
        (updates[0]["actor_role"].as_str(), updates[0]["detail"].as_str()),
        (Some("operator"), Some("settings"))
    );

    let enabled = byok_on(&url, &["credentials", "enable", &alice]);
    assert_eq!(enabled.status.code(), Some(0), "{}", stderr(&enabled));
    assert_eq!(app.get(&format!("/v1/credentials/{alice}"), &svc).await.body["enabled"], true);
    assert_eq!(entries(&app, &format!("credential={alice}&action=credential.enable")).await.len(), 1);

    let deleted = byok_on(&url, &["credentials", "delete", &alice]);
    assert_eq!(deleted.status.code(), Some(0), "{}", stderr(&deleted));
    app.get(&format!("/v1/credentials/{alice}"), &svc).await.assert_problem(404, "not_found");
    let gone = entries(&app, &format!("credential={alice}&action=credential.delete")).await;
    assert_eq!((gone.len(), gone[0]["actor_role"].as_str()), (1, Some("operator")));

    for command in ["show", "disable", "enable", "delete"] {
        assert_fails(&byok_on(&url, &["credentials", command, &alice]), 1, &format!("no credential {alice}"));
        assert_fails(&byok_on(&url, &["credentials", command, "not-an-id"]), 2, "invalid value 'not-an-id'");
    }
    assert_fails(&byok_on(&url, &["credentials", "list", "--owner", "alice"]), 2, "invalid owner");
    assert_fails(&byok_on(&url, &["credentials", "list", "--provider", "Open AI"]), 2, "invalid provider");
    assert_fails(&byok_on(&url, &["credentials", "list", "--provider", "nosuch"]), 1, "unknown provider `nosuch`");
    assert_fails(&byok_on(&url, &["credentials", "frobnicate"]), 2, "unrecognized subcommand");

    for secret in [&alice_key, &acme_key] {
        assert!(!seen.contains(secret.as_str()), "a secret reached the command line's output");
    }
    let verify = byok_on(&url, &["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
}

async fn tokens_are_listed_and_revoked(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.user_token("alice", &["acme"]).await;
    let r = app.post("/v1/tokens", &app.admin, json!({"role": "service", "name": "backend", "expires_in": 3600})).await;
    let service_id = r.body["id"].as_str().unwrap().to_owned();
    let service = r.body["token"].as_str().unwrap().to_owned();
    let me = app.get("/v1/credentials", &user).await;
    assert_eq!(me.status, 200);
    let url = app.db().url.clone();

    let listed = byok_on(&url, &["token", "list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let text = stdout(&listed);
    assert_eq!(text.lines().count(), 2, "{text}");
    let service_line = text.lines().find(|l| l.starts_with(&service_id)).expect("service token listed");
    assert!(
        service_line.contains(" service - \"backend\" expires=20") && service_line.ends_with(" active"),
        "{service_line}"
    );
    assert!(text.lines().any(|l| l.contains(" user user:alice - expires=never active")), "{text}");
    let users = byok_on(&url, &["token", "list", "--role", "user", "--json"]);
    let users: Vec<Value> = stdout(&users).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(users.len(), 1);
    assert_eq!((users[0]["owner"].as_str(), users[0]["revoked_at"].as_str()), (Some("user:alice"), None));
    let user_id = users[0]["id"].as_str().unwrap().to_owned();
    let by_owner = byok_on(&url, &["token", "list", "--owner", "user:alice"]);
    assert_eq!(stdout(&by_owner).lines().count(), 1);
    for secret in [&user, &service] {
        assert!(
            !text.contains(secret.as_str()) && !stdout(&by_owner).contains(secret.as_str()),
            "a token value was listed"
        );
    }

    let revoked = byok_on(&url, &["token", "revoke", &user_id]);
    assert_eq!(revoked.status.code(), Some(0), "{}", stderr(&revoked));
    assert_eq!(stdout(&revoked).trim(), format!("token {user_id} revoked"));
    // The running service sees the revocation at its next token-epoch poll.
    let started = std::time::Instant::now();
    while app.get("/v1/credentials", &user).await.status != 401 {
        assert!(started.elapsed() < Duration::from_secs(10), "the revoked token still works");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed = stdout(&byok_on(&url, &["token", "list", "--role", "user"]));
    assert!(listed.trim().contains(" revoked=20"), "{listed}");
    let again = byok_on(&url, &["token", "revoke", &user_id]);
    assert_eq!(
        (again.status.code(), stdout(&again).trim()),
        (Some(0), format!("token {user_id} was already revoked").as_str())
    );
    let audited = entries(&app, "action=token.revoke").await;
    assert_eq!(audited.len(), 1, "the no-op is not audited");
    assert_eq!(audited[0]["actor_role"], "operator");
    assert_eq!(audited[0]["owner"], "user:alice");
    assert_eq!(audited[0]["detail"], format!("user token {user_id}"));

    let created = byok_on(&url, &["token", "create", "--role", "service", "--name", "cron"]);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let minted = entries(&app, "action=token.create").await;
    let by_cli: Vec<&Value> = minted.iter().filter(|e| e["actor_role"] == "operator").collect();
    assert_eq!(by_cli.len(), 1, "the command line's token create is audited: {minted:?}");
    assert!(by_cli[0]["detail"].as_str().unwrap().starts_with("service token "));

    let unknown = uuid::Uuid::now_v7().to_string();
    assert_fails(&byok_on(&url, &["token", "revoke", &unknown]), 1, &format!("no token {unknown}"));
    assert_fails(&byok_on(&url, &["token", "revoke", "nope"]), 2, "invalid value 'nope'");
    assert_fails(&byok_on(&url, &["token", "list", "--role", "root"]), 2, "invalid value 'root'");
}
