//! Upgrades keep data: a database written by the previous release
//! (`tests/fixtures/previous-release`, made by `scripts/make-upgrade-fixture.sh`) is
//! migrated at start-up and serves every credential, secret version, token, policy,
//! usage counter and audit entry it held.

use std::path::PathBuf;
use std::process::Command;

use byok::config::Layer;
use byok_crypto::hash_token;
use byok_fakes::FakeProviders;
use serde_json::{Value, json};

use crate::both_engines;
use crate::support::{AppOptions, Engine, TEST_KEY, TestApp, TestDb, spawn_with};

both_engines!(previous_release_database_is_migrated_and_served);

/// What the previous release wrote, and what it answered about it.
struct Fixture {
    dir: PathBuf,
    tokens: Vec<Value>,
    credentials: Vec<Value>,
}

impl Fixture {
    fn read(engine: Engine) -> Fixture {
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/previous-release").join(match engine {
                Engine::Sqlite => "sqlite",
                Engine::Postgres => "postgres",
            });
        Fixture {
            tokens: read_lines(&dir.join("tokens.jsonl")),
            credentials: read_lines(&dir.join("credentials.jsonl")),
            dir,
        }
    }

    fn text(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
    }

    fn json(&self, name: &str) -> Value {
        serde_json::from_str(&self.text(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
    }

    fn token(&self, role: &str, state: &str) -> String {
        let found = self.tokens.iter().find(|t| t["role"] == role && t["state"] == state);
        found.unwrap_or_else(|| panic!("the fixture has no {state} {role} token"))["token"].as_str().unwrap().to_owned()
    }

    /// Restores the dump into `db` as an operator would, before byok opens it.
    async fn load_into(&self, db: &TestDb) {
        let dump = self.dir.join("byok.sql");
        match db.engine {
            Engine::Sqlite => crate::support::sqlite(&db.url).execute_batch(&self.text("byok.sql")).unwrap(),
            Engine::Postgres => {
                let out = Command::new("psql")
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-f"])
                    .arg(&dump)
                    .output()
                    .expect("psql (PostgreSQL's client) restores the fixture dump");
                assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}

fn read_lines(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn sha256_hex(value: &str) -> String {
    hex::encode(hash_token(value))
}

/// Runs `byok audit verify` with the heads the previous release printed.
fn audit_verify(db: &TestDb, heads: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_byok"))
        .args(["audit", "verify", "--heads"])
        .arg(heads)
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("BYOK_MASTER_KEY", TEST_KEY)
        .output()
        .expect("byok runs")
}

async fn previous_release_database_is_migrated_and_served(engine: Engine) {
    let fixture = Fixture::read(engine);
    let db = TestDb::fresh(engine).await;
    fixture.load_into(&db).await;

    // The first byok to open it migrates it; every entry and chain head is still there.
    let heads = fixture.dir.join("audit-heads.txt");
    let out = audit_verify(&db, &heads);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "audit verify failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().next(), Some(fixture.text("audit-summary.txt").trim()), "entries or chains changed");

    let fakes = FakeProviders::start().await.expect("fakes start");
    let settings = Layer { master_key: Some(TEST_KEY.to_owned()), reverify_interval_secs: Some(0), ..Layer::default() };
    let app = spawn_with(db, AppOptions { settings, env: fakes.env_vars(), ..AppOptions::default() }).await;
    let admin = fixture.token("admin", "active");

    credentials_read_as_before(&app, &admin, &fixture.json("credential-views.json")).await;
    virtual_key_reads_as_before(&app, &admin, &fixture.json("virtual-key-view.json")).await;
    tokens_keep_their_roles(&app, &fixture).await;
    // The policy reads as before, with the field added since at its default.
    let mut policy = app.get("/v1/orgs/acme/policy", &admin).await.body;
    assert_eq!(policy.as_object_mut().unwrap().remove("short_lived_only"), Some(json!(false)));
    assert_eq!(policy, fixture.json("acme-policy.json"));

    let service = fixture.token("service", "active");
    let refused = app.post("/v1/resolve", &service, json!({"provider": "gemini", "org": "acme"})).await;
    assert_eq!(refused.status, 404, "acme's policy forbids platform keys: {}", refused.text);
    every_credential_opens(&app, &service, &fixture).await;
    every_secret_version_opens(&app, &service, &fixture).await;
    virtual_key_reaches_the_provider(&app, &fixture, &fakes).await;

    // What this release appended continues the log the previous one kept.
    let db = app.stop().await;
    let out = audit_verify(&db, &heads);
    assert!(out.status.success(), "audit verify failed after use: {}", String::from_utf8_lossy(&out.stderr));
}

/// Every field the previous release answered is answered the same (new fields may
/// appear); counters of a period that has since ended read as zero for the new one.
async fn credentials_read_as_before(app: &TestApp, admin: &str, recorded: &Value) {
    let now = app.get("/v1/credentials?limit=100", admin).await;
    assert_eq!(now.status, 200, "{}", now.text);
    let items = now.body["items"].as_array().unwrap();
    let recorded = recorded.as_array().unwrap();
    assert_eq!(items.len(), recorded.len(), "credentials were lost or added: {}", now.text);
    for before in recorded {
        let after = items.iter().find(|c| c["id"] == before["id"]).unwrap_or_else(|| panic!("lost {}", before["id"]));
        assert_same_view(before, after);
    }
}

async fn virtual_key_reads_as_before(app: &TestApp, admin: &str, recorded: &Value) {
    let now = app.get(&format!("/v1/tokens/{}", recorded["id"].as_str().unwrap()), admin).await;
    assert_eq!(now.status, 200, "{}", now.text);
    assert_same_view(recorded, &now.body);
    assert!(recorded["usage"]["total"].as_i64().unwrap() > 0, "the fixture's virtual key was used");
}

fn assert_same_view(before: &Value, after: &Value) {
    let id = &before["id"];
    for (key, value) in before.as_object().unwrap() {
        if key == "usage" {
            assert_same_usage(id, value, &after["usage"]);
        } else {
            assert_eq!(&after[key], value, "{id}: `{key}` changed");
        }
    }
}

fn assert_same_usage(id: &Value, before: &Value, after: &Value) {
    let same_period = before["period_start"] == after["period_start"];
    for (key, value) in before.as_object().unwrap() {
        match key.as_str() {
            "period_start" if !same_period => {
                assert!(after[key].as_str() > value.as_str(), "{id}: usage period went back");
            }
            "period" | "tokens_period" if !same_period => assert_eq!(after[key], json!(0), "{id}: usage.{key}"),
            _ => assert_eq!(&after[key], value, "{id}: usage.{key} changed"),
        }
    }
}

async fn tokens_keep_their_roles(app: &TestApp, fixture: &Fixture) {
    let admin = fixture.token("admin", "active");
    for t in &fixture.tokens {
        let token = t["token"].as_str().unwrap();
        let (role, state) = (t["role"].as_str().unwrap(), t["state"].as_str().unwrap());
        let audit = app.get("/v1/audit?limit=1", token).await;
        let resolve = app.post("/v1/resolve", token, json!({"provider": "anthropic", "user": "alice"})).await;
        let list = app.get("/v1/credentials", token).await;
        let statuses = (audit.status, resolve.status, list.status);
        let expected = match (role, state) {
            ("admin", "active") => (200, 403, 200),
            ("service", "active") => (403, 200, 200),
            ("user", "active") => (403, 403, 200),
            ("virtual", "active") | (_, "revoked" | "expired") => (401, 401, 401),
            other => panic!("unexpected fixture token {other:?}"),
        };
        assert_eq!(statuses, expected, "{role} token ({state}): audit, resolve, list");
        if role == "user" && state == "active" {
            for item in list.body["items"].as_array().unwrap() {
                let owner = item["owner"].as_str().unwrap();
                assert!(owner == "user:alice" || owner == "org:acme" || owner == "user:bob", "{owner}");
            }
        }
        let id = t["id"].as_str().unwrap();
        if !id.is_empty() {
            let view = app.get(&format!("/v1/tokens/{id}"), &admin).await;
            assert_eq!(view.status, 200, "{}", view.text);
            assert_eq!(view.body["role"], json!(role), "{}", view.text);
        }
    }
}

/// Each credential opens to the secret it was given, through the resolve request
/// that picks it; the disabled one stays disabled until it is enabled.
async fn every_credential_opens(app: &TestApp, service: &str, fixture: &Fixture) {
    let views = fixture.json("credential-views.json");
    for c in &fixture.credentials {
        let id = c["id"].as_str().unwrap();
        let view = views.as_array().unwrap().iter().find(|v| v["id"] == c["id"]).unwrap();
        if view["enabled"] == json!(false) {
            let r = app.post("/v1/resolve", service, c["resolve"].clone()).await;
            assert_eq!(r.status, 404, "a disabled credential was served: {}", r.text);
            let r = app
                .patch(&format!("/v1/credentials/{id}"), &fixture.token("admin", "active"), json!({"enabled": true}))
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let r = app.post("/v1/resolve", service, c["resolve"].clone()).await;
        assert_eq!(r.status, 200, "{}: {}", c["resolve"], r.text);
        assert_eq!(r.body["credential_id"], c["id"], "{}", c["resolve"]);
        for (field, digest) in c["secret_sha256"].as_object().unwrap() {
            let value = r.body["fields"][field].as_str().unwrap_or_else(|| panic!("{id}: no {field}"));
            assert_eq!(&json!(sha256_hex(value)), digest, "{id}: {field} opened to another value");
        }
    }
}

/// Older secret versions still open: rolling back to each serves its secret.
async fn every_secret_version_opens(app: &TestApp, service: &str, fixture: &Fixture) {
    let versions = fixture.json("versions.json");
    let id = versions["credential"].as_str().unwrap();
    let admin = fixture.token("admin", "active");
    let listed = app.get(&format!("/v1/credentials/{id}/versions"), &admin).await;
    let numbers: Vec<&Value> =
        listed.body.as_array().expect("a list of versions").iter().map(|v| &v["version"]).collect();
    assert_eq!(numbers, [&json!(3), &json!(2), &json!(1)], "{}", listed.text);
    let credential = fixture.credentials.iter().find(|c| c["id"] == json!(id)).unwrap();
    for (version, digest) in versions["api_key_sha256"].as_object().unwrap() {
        let r = app
            .post(
                &format!("/v1/credentials/{id}/rollback"),
                &admin,
                json!({"version": version.parse::<i64>().unwrap()}),
            )
            .await;
        assert_eq!(r.status, 200, "rollback to {version}: {}", r.text);
        let r = app.post("/v1/resolve", service, credential["resolve"].clone()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let key = r.body["fields"]["api_key"].as_str().unwrap();
        assert_eq!(&json!(sha256_hex(key)), digest, "version {version} opened to another value");
    }
}

/// The virtual key still authenticates at the proxy, which sends its owner's real key.
async fn virtual_key_reaches_the_provider(app: &TestApp, fixture: &Fixture, fakes: &FakeProviders) {
    let vk = fixture.token("virtual", "active");
    let url = app.url("/v1/proxy/openai/v1/models");
    // The fake refuses the fixture's made-up key; that it was asked at all, with that
    // key, is what shows byok accepted the virtual key.
    app.send(app.client.get(url).bearer_auth(&vk)).await;
    let sent = fakes.requests_to("openai").pop().expect("the proxy forwarded the request");
    let auth = sent.headers.iter().find(|(name, _)| name == "authorization").expect("a key was sent").1.clone();
    let versions = fixture.json("versions.json");
    // The last rollback made version 3's secret current again.
    assert_eq!(json!(sha256_hex(auth.trim_start_matches("Bearer "))), versions["api_key_sha256"]["3"]);
}
