//! New secrets are tested in the background (`verifying` while the probe runs), a test
//! cut short is tested again, and `BYOK_VALIDATE_ON_CREATE` makes validation the default.

use std::time::{Duration, Instant};

use byok::config::Layer;
use byok_fakes::{FakeProviders, Scenario, fields};
use serde_json::{Value, json};

use crate::both_engines;
use crate::support::{AppOptions, Engine, TEST_KEY, TestApp, TestDb, captured_logs, spawn_with};

both_engines!(
    new_credentials_are_tested_in_the_background,
    a_newer_secret_keeps_its_own_status,
    a_test_cut_short_is_tested_again,
    validate_on_create_is_the_default_a_request_can_refuse,
    a_bulk_of_new_secrets_is_tested_a_few_at_a_time,
);

async fn app_with_fakes(engine: Engine, settings: Layer) -> (TestApp, FakeProviders) {
    let fakes = FakeProviders::start().await.expect("fakes start");
    let settings = Layer { master_key: Some(TEST_KEY.to_owned()), ..settings };
    let options = AppOptions { settings, env: fakes.env_vars(), ..AppOptions::default() };
    (spawn_with(TestDb::fresh(engine).await, options).await, fakes)
}

fn testing_new() -> Layer {
    Layer { test_new_credentials: Some(true), reverify_interval_secs: Some(0), ..Layer::default() }
}

/// A new credential of alice's, under a label of its own (labels are unique per owner
/// and provider).
fn body(provider: &str, scenario: Scenario) -> Value {
    let label = uuid::Uuid::new_v4().simple().to_string();
    json!({"owner": "user:alice", "provider": provider, "label": label, "fields": fields(provider, scenario).expect("scenario exists")})
}

/// The credential's view once its status is no longer `verifying`.
async fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let view = app.get(&format!("/v1/credentials/{id}"), token).await.body;
        if view["status"] != "verifying" {
            return view;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still verifying: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The audit entries of action `credential.test` for credential `id`.
async fn test_entries(app: &TestApp, id: &str) -> Vec<Value> {
    let r = app.get(&format!("/v1/audit?credential={id}&action=credential.test"), &app.admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

/// The `credential.test` entries of `id` once there are `n` (a background test's entry
/// is written after its result, so a settled status may be seen a moment before it).
async fn audited_tests(app: &TestApp, id: &str, n: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let entries = test_entries(app, id).await;
        if entries.len() >= n || started.elapsed() > Duration::from_secs(10) {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn new_credentials_are_tested_in_the_background(engine: Engine) {
    let (app, fakes) = app_with_fakes(engine, testing_new()).await;
    let svc = app.service_token().await;
    let key = fields("openai", Scenario::Good).unwrap()["api_key"].clone();

    let r = app.post("/v1/credentials", &svc, body("openai", Scenario::Good)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "verifying", "the answer says a test is under way");
    assert!(!r.text.contains(&key), "no secret in the answer");
    let good = r.body["id"].as_str().unwrap().to_owned();
    let view = settled(&app, &svc, &good).await;
    assert_eq!(view["status"], "connected");
    assert!(view["last_tested_at"].is_string());
    let sent = fakes.requests_to("openai");
    assert!(sent.iter().any(|r| r.path == "/v1/models" && r.header("authorization") == Some(&format!("Bearer {key}"))));
    // Audited like any connection test, with the outcome and never the secret.
    let entries = audited_tests(&app, &good, 1).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (entries[0]["outcome"].as_str(), entries[0]["actor_role"].as_str()),
        (Some("connected"), Some("service"))
    );
    assert!(entries[0]["detail"].as_str().unwrap().contains("version 1"), "{}", entries[0]);

    let bad = app.post("/v1/credentials", &svc, body("openai", Scenario::Invalid)).await.body["id"].clone();
    let view = settled(&app, &svc, bad.as_str().unwrap()).await;
    assert_eq!(view["status"], "error");
    assert!(!view["status_message"].as_str().unwrap().is_empty());

    // While the provider has not answered, the credential shows `verifying`.
    let hang = app.post("/v1/credentials", &svc, body("anthropic", Scenario::Hang)).await.body["id"].clone();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let view = app.get(&format!("/v1/credentials/{}", hang.as_str().unwrap()), &svc).await;
    assert_eq!(view.body["status"], "verifying", "{}", view.text);

    // A credential validated on create was tested already: no second probe, no test entry.
    let before = fakes.requests_to("gemini").len();
    let mut validated = body("gemini", Scenario::Good);
    validated["validate"] = json!(true);
    let r = app.post("/v1/credentials", &svc, validated).await;
    assert_eq!((r.status, r.body["status"].as_str()), (201, Some("connected")), "{}", r.text);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fakes.requests_to("gemini").len(), before + 1, "validated once, not tested again");
    assert_eq!(test_entries(&app, r.body["id"].as_str().unwrap()).await, Vec::<Value>::new());

    assert!(!captured_logs().contains(&key), "the secret never reaches the logs");
}

async fn a_newer_secret_keeps_its_own_status(engine: Engine) {
    let (app, _fakes) = app_with_fakes(engine, testing_new()).await;
    let svc = app.service_token().await;
    for _ in 0..5 {
        // The first secret is refused by the provider; the second, stored at once, works.
        let id = app.post("/v1/credentials", &svc, body("groq", Scenario::Invalid)).await.body["id"].clone();
        let id = id.as_str().unwrap();
        let new = json!({"fields": fields("groq", Scenario::Good).unwrap()});
        let r = app.patch(&format!("/v1/credentials/{id}"), &svc, new).await;
        assert_eq!((r.status, r.body["version"].as_i64()), (200, Some(2)), "{}", r.text);
        let view = settled(&app, &svc, id).await;
        assert_eq!((view["version"].as_i64(), view["status"].as_str()), (Some(2), Some("connected")), "{view}");
        // Wait for the first test's entry too: its late result changed nothing.
        let started = Instant::now();
        while test_entries(&app, id).await.len() < 2 {
            assert!(started.elapsed() < Duration::from_secs(10), "both tests are audited");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(app.get(&format!("/v1/credentials/{id}"), &svc).await.body["status"], "connected");
    }
}

async fn a_test_cut_short_is_tested_again(engine: Engine) {
    let settings = Layer { reverify_interval_secs: Some(1), ..Layer::default() };
    let (app, _fakes) = app_with_fakes(engine, settings).await;
    let svc = app.service_token().await;
    let create = |provider: &'static str| {
        let app = &app;
        let svc = &svc;
        async move {
            let r = app.post("/v1/credentials", svc, body(provider, Scenario::Good)).await;
            assert_eq!((r.status, r.body["status"].as_str()), (201, Some("unverified")), "{}", r.text);
            r.body["id"].as_str().unwrap().to_owned()
        }
    };
    // An instance stopped mid-test left this mark an hour ago.
    let stale = create("openai").await;
    let hour_ago = (byok_core::Timestamp::now().millis() - 3_600_000).to_string();
    app.db()
        .execute("UPDATE credentials SET verifying_since = CAST($1 AS BIGINT) WHERE id = $2", &[&hour_ago, &stale])
        .await;
    // Another test of this one is running right now: the sweep leaves it alone.
    let running = create("exa").await;
    let now = byok_core::Timestamp::now().millis().to_string();
    app.db()
        .execute("UPDATE credentials SET verifying_since = CAST($1 AS BIGINT) WHERE id = $2", &[&now, &running])
        .await;

    let view = settled(&app, &svc, &stale).await;
    assert_eq!(view["status"], "connected", "{view}");
    let entries = audited_tests(&app, &stale, 1).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor_role"], "system");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.get(&format!("/v1/credentials/{running}"), &svc).await.body["status"], "verifying");
    assert_eq!(test_entries(&app, &running).await, Vec::<Value>::new());
}

async fn validate_on_create_is_the_default_a_request_can_refuse(engine: Engine) {
    let settings = Layer { validate_on_create: Some(true), ..Layer::default() };
    let (app, fakes) = app_with_fakes(engine, settings).await;
    let svc = app.service_token().await;

    app.post("/v1/credentials", &svc, body("openai", Scenario::Invalid)).await.assert_problem(422, "validation_failed");
    assert_eq!(app.get("/v1/credentials", &svc).await.body["items"], json!([]), "nothing stored");

    let r = app.post("/v1/credentials", &svc, body("openai", Scenario::Good)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (201, Some("connected")), "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();

    // A PATCH with a new secret is validated too; a label change probes nothing.
    let bad = json!({"fields": fields("openai", Scenario::Invalid).unwrap()});
    app.patch(&format!("/v1/credentials/{id}"), &svc, bad.clone()).await.assert_problem(422, "validation_failed");
    let probes = fakes.requests_to("openai").len();
    let r = app.patch(&format!("/v1/credentials/{id}"), &svc, json!({"label": "renamed"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(fakes.requests_to("openai").len(), probes);

    // The request's explicit `false` wins over the deployment's default.
    let mut unchecked = body("openai", Scenario::Invalid);
    unchecked["validate"] = json!(false);
    let r = app.post("/v1/credentials", &svc, unchecked).await;
    assert_eq!((r.status, r.body["status"].as_str()), (201, Some("unverified")), "{}", r.text);
    let mut bad = bad;
    bad["validate"] = json!(false);
    let r = app.patch(&format!("/v1/credentials/{id}"), &svc, bad).await;
    assert_eq!((r.status, r.body["version"].as_i64()), (200, Some(2)), "{}", r.text);
    assert_eq!(fakes.requests_to("openai").len(), probes, "nothing probed when the request says false");

    app.post(
        "/v1/credentials",
        &svc,
        json!({"provider": "openai", "owner": "user:alice", "fields": {}, "validate": "yes"}),
    )
    .await
    .assert_problem(422, "invalid_field");
}

async fn a_bulk_of_new_secrets_is_tested_a_few_at_a_time(engine: Engine) {
    // Providers that never answer hold each test until its time limit: only as many
    // tests as the sweep's concurrency (4) may be waiting on them at once.
    let (app, fakes) = app_with_fakes(engine, testing_new()).await;
    let svc = app.service_token().await;
    for _ in 0..10 {
        assert_eq!(app.post("/v1/credentials", &svc, body("openai", Scenario::Hang)).await.status, 201);
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fakes.requests_to("openai").len(), 4, "four tests at once; the other six wait their turn");
}
