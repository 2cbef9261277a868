//! Connection tests through the API, against fake providers on loopback.

use std::time::{Duration, Instant};

use byok::config::Layer;
use byok::startup::StartupError;
use byok_fakes::{FakeProviders, Scenario, fields};
use serde_json::{Value, json};

use crate::both_engines;
use crate::support::{AppOptions, Engine, TEST_KEY, TestApp, TestDb, open_state_with_env, spawn_with, test_config};

both_engines!(
    test_endpoint_classifies_and_records,
    validate_refuses_invalid_and_stores_nothing,
    probes_are_rate_limited_per_owner,
    background_reverification_flips_only_on_invalid,
);

async fn app_with_fakes(engine: Engine, settings: Layer) -> (TestApp, FakeProviders) {
    let fakes = FakeProviders::start().await.expect("fakes start");
    let settings = Layer { master_key: Some(TEST_KEY.to_owned()), ..settings };
    let options = AppOptions { settings, env: fakes.env_vars(), ..AppOptions::default() };
    (spawn_with(TestDb::fresh(engine).await, options).await, fakes)
}

fn body(owner: &str, provider: &str, scenario: Scenario, label: &str) -> Value {
    json!({"owner": owner, "provider": provider, "label": label, "fields": fields(provider, scenario).expect("scenario exists")})
}

async fn create(app: &TestApp, svc: &str, provider: &str, scenario: Scenario, label: &str) -> String {
    let r = app.post("/v1/credentials", svc, body("user:alice", provider, scenario, label)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn test(app: &TestApp, svc: &str, id: &str) -> crate::support::Resp {
    app.post(&format!("/v1/credentials/{id}/test"), svc, json!({})).await
}

async fn test_endpoint_classifies_and_records(engine: Engine) {
    let (app, fakes) = app_with_fakes(engine, Layer::default()).await;
    let svc = app.service_token().await;

    let good = create(&app, &svc, "openai", Scenario::Good, "good").await;
    let r = test(&app, &svc, &good).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["outcome"].as_str(), r.body["status"].as_str()), (Some("connected"), Some("connected")));
    assert!(r.body["latency_ms"].is_u64());
    let view = app.get(&format!("/v1/credentials/{good}"), &svc).await;
    assert_eq!(view.body["status"], "connected");
    assert!(view.body["last_tested_at"].is_string());
    // The real key went where OpenAI documents it.
    let key = fields("openai", Scenario::Good).unwrap()["api_key"].clone();
    let sent = fakes.requests_to("openai");
    assert!(sent.iter().any(|r| r.path == "/v1/models" && r.header("authorization") == Some(&format!("Bearer {key}"))));

    let bad = create(&app, &svc, "openai", Scenario::Invalid, "bad").await;
    let r = test(&app, &svc, &bad).await;
    assert_eq!((r.body["outcome"].as_str(), r.body["status"].as_str()), (Some("invalid"), Some("error")));
    let view = app.get(&format!("/v1/credentials/{bad}"), &svc).await;
    assert_eq!(view.body["status"], "error");
    assert!(!view.body["status_message"].as_str().unwrap().is_empty());

    // A provider outage says nothing about the key: the status stays.
    let flaky = create(&app, &svc, "anthropic", Scenario::ServerError, "flaky").await;
    app.db().execute("UPDATE credentials SET status = 'connected' WHERE id = $1", &[&flaky]).await;
    let r = test(&app, &svc, &flaky).await;
    assert_eq!((r.body["outcome"].as_str(), r.body["status"].as_str()), (Some("unavailable"), Some("connected")));
    assert_eq!(app.get(&format!("/v1/credentials/{flaky}"), &svc).await.body["status"], "connected");

    let sending_only = create(&app, &svc, "resend", Scenario::Restricted, "send").await;
    let r = test(&app, &svc, &sending_only).await;
    assert_eq!((r.body["outcome"].as_str(), r.body["status"].as_str()), (Some("restricted"), Some("restricted")));

    let twilio = create(&app, &svc, "twilio", Scenario::TwilioNumberWithoutSms, "sms").await;
    assert_eq!(test(&app, &svc, &twilio).await.body["outcome"], "restricted");

    // Not someone else's: bob cannot test alice's credential.
    let bob = app.user_token("bob", &[]).await;
    test(&app, &bob, &good).await.assert_problem(404, "not_found");
}

async fn validate_refuses_invalid_and_stores_nothing(engine: Engine) {
    let (app, _fakes) = app_with_fakes(engine, Layer::default()).await;
    let svc = app.service_token().await;
    let mut invalid = body("user:alice", "gemini", Scenario::Invalid, "v");
    invalid["validate"] = json!(true);
    let r = app.post("/v1/credentials", &svc, invalid).await;
    r.assert_problem(422, "validation_failed");
    assert!(r.body["detail"].as_str().unwrap().contains("Google Gemini"), "{}", r.text);
    assert_eq!(app.get("/v1/credentials", &svc).await.body["items"], json!([]), "nothing stored");

    let mut good = body("user:alice", "gemini", Scenario::Good, "v");
    good["validate"] = json!(true);
    let r = app.post("/v1/credentials", &svc, good).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "connected");
    assert!(r.body["last_tested_at"].is_string());
    let id = r.body["id"].as_str().unwrap().to_owned();

    // An outage during validation stores the credential unverified.
    let mut down = body("user:alice", "groq", Scenario::ServerError, "down");
    down["validate"] = json!(true);
    let r = app.post("/v1/credentials", &svc, down).await;
    assert_eq!((r.status, r.body["status"].as_str()), (201, Some("unverified")));

    // A secret-changing PATCH with validate probes the submitted value, not the stored one.
    let bad_key = fields("gemini", Scenario::Invalid).unwrap();
    let r = app.patch(&format!("/v1/credentials/{id}"), &svc, json!({"fields": bad_key, "validate": true})).await;
    r.assert_problem(422, "validation_failed");
    let view = app.get(&format!("/v1/credentials/{id}"), &svc).await;
    assert_eq!((view.body["version"].as_i64(), view.body["status"].as_str()), (Some(1), Some("connected")));
}

async fn probes_are_rate_limited_per_owner(engine: Engine) {
    let (app, _fakes) = app_with_fakes(engine, Layer { probe_rate_per_minute: Some(3), ..Layer::default() }).await;
    let svc = app.service_token().await;
    let id = create(&app, &svc, "groq", Scenario::Good, "g").await;
    for _ in 0..3 {
        assert_eq!(test(&app, &svc, &id).await.status, 200);
    }
    test(&app, &svc, &id).await.assert_problem(429, "rate_limited");
    // Another owner has its own allowance.
    let r = app.post("/v1/credentials", &svc, body("user:zoe", "groq", Scenario::Good, "g")).await;
    assert_eq!(test(&app, &svc, r.body["id"].as_str().unwrap()).await.status, 200);
}

async fn background_reverification_flips_only_on_invalid(engine: Engine) {
    let (app, fakes) = app_with_fakes(engine, Layer { reverify_interval_secs: Some(1), ..Layer::default() }).await;
    let svc = app.service_token().await;
    let revoked = create(&app, &svc, "groq", Scenario::Invalid, "revoked").await;
    let flaky = create(&app, &svc, "openrouter", Scenario::ServerError, "flaky").await;
    for id in [&revoked, &flaky] {
        app.db().execute("UPDATE credentials SET status = 'connected', last_tested_at = 1 WHERE id = $1", &[id]).await;
    }
    let started = Instant::now();
    loop {
        let status = app.get(&format!("/v1/credentials/{revoked}"), &svc).await.body["status"].clone();
        if status == "error" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the revoked key was not re-tested");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while fakes.requests_to("openrouter").is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10), "the flaky credential was not re-tested");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The credential shows `verifying` while a test runs; once none runs, an unavailable
    // provider has left the status as it was.
    let flaky = app.eventually(&format!("/v1/credentials/{flaky}"), |c| c["status"] != "verifying").await;
    assert_eq!(flaky["status"], "connected");
}

#[tokio::test]
async fn private_base_url_is_refused_without_the_opt_in() {
    let db = TestDb::fresh(Engine::Sqlite).await;
    let config = test_config(&db.url, TEST_KEY);
    for target in
        ["http://127.0.0.1:9", "http://10.1.2.3", "http://169.254.169.254", "http://[::1]:80", "http://localhost:1"]
    {
        let err = open_state_with_env(&config, &[("BYOK_PROVIDER_OPENAI_BASE_URL", target)]).await.err();
        assert!(matches!(err, Some(StartupError::Probes(_))), "{target} was accepted");
    }
    let allowed = [("BYOK_PROVIDER_OPENAI_BASE_URL", "http://127.0.0.1:9"), ("BYOK_ALLOW_PRIVATE_NETWORKS", "true")];
    assert!(open_state_with_env(&config, &allowed).await.is_ok());
}
