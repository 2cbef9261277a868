//! `POST /v1/providers/{id}/test` (submitted fields, nothing stored) and
//! `GET /v1/availability` (which tier a request would use, no unit taken).

use byok::config::Layer;
use byok_fakes::{FakeProviders, Scenario, fields};
use serde_json::{Value, json};

use crate::both_engines;
use crate::support::{AppOptions, Engine, TEST_KEY, TestApp, TestDb, captured_logs, spawn_with};

both_engines!(
    submitted_fields_are_tested_and_never_stored,
    submitted_field_tests_are_rate_limited_and_checked,
    availability_walks_the_tiers_without_taking_a_unit,
    availability_respects_ownership,
);

async fn app_with_fakes(engine: Engine, settings: Layer, env: &[(&str, &str)]) -> (TestApp, FakeProviders) {
    let fakes = FakeProviders::start().await.expect("fakes start");
    let settings = Layer { master_key: Some(TEST_KEY.to_owned()), ..settings };
    let mut vars = fakes.env_vars();
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let options = AppOptions { settings, env: vars, ..AppOptions::default() };
    (spawn_with(TestDb::fresh(engine).await, options).await, fakes)
}

fn submitted(provider: &str, scenario: Scenario) -> Value {
    json!({"fields": fields(provider, scenario).expect("scenario exists")})
}

async fn submitted_fields_are_tested_and_never_stored(engine: Engine) {
    let (app, fakes) = app_with_fakes(engine, Layer::default(), &[]).await;
    let alice = app.user_token("alice", &[]).await;
    let key = fields("openai", Scenario::Good).unwrap()["api_key"].clone();

    let r = app.post("/v1/providers/openai/test", &alice, submitted("openai", Scenario::Good)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["outcome"].as_str(), r.body["status"].as_str()), (Some("connected"), Some("connected")));
    assert!(r.body["latency_ms"].is_u64() && r.body["message"].is_string());
    assert!(!r.text.contains(&key), "no secret in the answer");
    let sent = fakes.requests_to("openai");
    assert!(sent.iter().any(|r| r.path == "/v1/models" && r.header("authorization") == Some(&format!("Bearer {key}"))));

    let r = app.post("/v1/providers/anthropic/test", &alice, submitted("anthropic", Scenario::Invalid)).await;
    assert_eq!((r.body["outcome"].as_str(), r.body["status"].as_str()), (Some("invalid"), Some("error")));
    let r = app.post("/v1/providers/resend/test", &alice, submitted("resend", Scenario::Restricted)).await;
    assert_eq!((r.body["outcome"].as_str(), r.body["status"].as_str()), (Some("restricted"), Some("restricted")));
    let r = app.post("/v1/providers/groq/test", &alice, submitted("groq", Scenario::ServerError)).await;
    assert_eq!((r.body["outcome"].as_str(), r.body["status"].as_str()), (Some("unavailable"), Some("unverified")));

    // Nothing stored, and each test audited with its outcome, never a value.
    assert_eq!(app.get("/v1/credentials", &alice).await.body["items"], json!([]));
    assert_eq!(app.db().count("SELECT count(*) FROM credentials").await, 0);
    let audit = app.get("/v1/audit?action=credential.test&owner=user:alice", &app.admin).await;
    let outcomes: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["connected", "invalid", "restricted", "unavailable"]);
    assert!(!audit.text.contains(&key));
    assert!(!String::from_utf8_lossy(&app.db().all_bytes().await).contains(&key), "the key is nowhere in the database");
    assert!(!captured_logs().contains(&key), "nor in the logs");

    // A service names the owner whose allowance the test uses; Stability's organization
    // id reaches the provider in its `Organization` header.
    let svc = app.service_token().await;
    let mut body = submitted("stability", Scenario::Good);
    body["owner"] = json!("org:acme");
    body["fields"]["organization"] = json!("org-1234");
    let r = app.post("/v1/providers/stability/test", &svc, body).await;
    assert_eq!(r.body["outcome"], "connected", "{}", r.text);
    let sent = fakes.requests_to("stability");
    assert_eq!(sent.last().unwrap().header("organization"), Some("org-1234"));
}

async fn submitted_field_tests_are_rate_limited_and_checked(engine: Engine) {
    let (app, _fakes) = app_with_fakes(engine, Layer { probe_rate_per_minute: Some(2), ..Layer::default() }, &[]).await;
    let alice = app.user_token("alice", &["acme"]).await;
    let svc = app.service_token().await;

    // Bad input is refused before anything is probed (and uses no allowance).
    app.post("/v1/providers/nope/test", &alice, submitted("openai", Scenario::Good))
        .await
        .assert_problem(422, "unknown_provider");
    app.post("/v1/providers/openai/test", &alice, json!({"fields": {}})).await.assert_problem(422, "invalid_field");
    app.post("/v1/providers/openai/test", &alice, json!({"fields": {"api_key": "not-a-key"}}))
        .await
        .assert_problem(422, "invalid_field");
    app.post("/v1/providers/openai/test", &alice, json!({"fields": {"api_key": 5}}))
        .await
        .assert_problem(422, "invalid_field");
    app.post("/v1/providers/openai/test", &alice, json!({"fieldz": {}})).await.assert_problem(422, "invalid_field");
    let r = app
        .send(
            app.client
                .post(app.url("/v1/providers/openai/test"))
                .bearer_auth(&alice)
                .body("{")
                .header("content-type", "application/json"),
        )
        .await;
    r.assert_problem(400, "malformed_json");
    app.post(
        "/v1/providers/openai/test",
        &alice,
        json!({"owner": "user:bob", "fields": fields("openai", Scenario::Good)}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post("/v1/providers/openai/test", &svc, submitted("openai", Scenario::Good))
        .await
        .assert_problem(422, "invalid_field");
    app.post("/v1/providers/openai/test", "byok_usr_nope", submitted("openai", Scenario::Good))
        .await
        .assert_problem(401, "unauthorized");

    for _ in 0..2 {
        assert_eq!(
            app.post("/v1/providers/openai/test", &alice, submitted("openai", Scenario::Good)).await.status,
            200
        );
    }
    app.post("/v1/providers/openai/test", &alice, submitted("openai", Scenario::Good))
        .await
        .assert_problem(429, "rate_limited");
    // The org alice manages has its own allowance.
    let mut for_org = submitted("openai", Scenario::Good);
    for_org["owner"] = json!("org:acme");
    assert_eq!(app.post("/v1/providers/openai/test", &alice, for_org).await.status, 200);
}

/// One provider's entry of an availability answer.
fn entry<'a>(answer: &'a Value, provider: &str) -> &'a Value {
    answer["items"].as_array().unwrap().iter().find(|e| e["provider"] == provider).expect("every provider is listed")
}

async fn create(app: &TestApp, token: &str, body: Value) -> String {
    let r = app.post("/v1/credentials", token, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn availability_walks_the_tiers_without_taking_a_unit(engine: Engine) {
    let env = [("GROQ_API_KEY", "gsk_platformkeyfromtheenv0001")];
    let (app, _fakes) = app_with_fakes(engine, Layer::default(), &env).await;
    let svc = app.service_token().await;
    let openai = |owner: &str, label: &str, extra: Value| {
        let mut body =
            json!({"owner": owner, "provider": "openai", "label": label, "fields": fields("openai", Scenario::Good)});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let user_key = create(&app, &svc, openai("user:alice", "mine", json!({"priority": 5}))).await;
    let preferred = create(&app, &svc, openai("user:alice", "preferred", json!({"priority": 1}))).await;
    let org_key = create(&app, &svc, openai("org:acme", "org", json!({}))).await;
    let anthropic_org = create(
        &app,
        &svc,
        json!({"owner": "org:acme", "provider": "anthropic", "fields": fields("anthropic", Scenario::Good), "monthly_limit": 0}),
    )
    .await;

    let r = app.get("/v1/availability?user=alice&org=acme", &svc).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["user"].as_str(), r.body["org"].as_str()), (Some("alice"), Some("acme")));
    assert_eq!(r.body["items"].as_array().unwrap().len(), 13, "one entry per catalog provider");
    assert_eq!(
        entry(&r.body, "openai"),
        &json!({"provider": "openai", "usable": true, "source": "user", "credential_id": preferred, "status": "unverified", "reason": null})
    );
    // The org's only key is at its limit: resolve would answer 429, not move the bill on.
    assert_eq!(
        entry(&r.body, "anthropic"),
        &json!({"provider": "anthropic", "usable": false, "source": "org", "credential_id": anthropic_org, "status": "unverified", "reason": "quota_exhausted"})
    );
    assert_eq!(
        entry(&r.body, "groq"),
        &json!({"provider": "groq", "usable": true, "source": "platform", "credential_id": "env:groq", "status": null, "reason": null})
    );
    assert_eq!(
        entry(&r.body, "exa"),
        &json!({"provider": "exa", "usable": false, "source": null, "credential_id": null, "status": null, "reason": "no_credential"})
    );
    // Nothing was counted.
    let used = app.db().count("SELECT count(*) FROM credentials WHERE usage_total > 0 OR usage_period > 0").await;
    assert_eq!(used, 0);

    // The user's keys disabled or failing: the org's key is next, as resolve would pick.
    app.patch(&format!("/v1/credentials/{preferred}"), &svc, json!({"enabled": false})).await;
    app.db().execute("UPDATE credentials SET status = 'error' WHERE id = $1", &[&user_key]).await;
    let r = app.get("/v1/availability?user=alice&org=acme", &svc).await;
    assert_eq!(
        (entry(&r.body, "openai")["source"].as_str(), entry(&r.body, "openai")["credential_id"].as_str()),
        (Some("org"), Some(org_key.as_str()))
    );
    let resolved = app.post("/v1/resolve", &svc, json!({"provider": "openai", "user": "alice", "org": "acme"})).await;
    assert_eq!(resolved.body["credential_id"], org_key.as_str(), "availability agrees with resolve");

    // An org that forbids platform keys has no platform tier.
    let r = app
        .send(
            app.client
                .put(app.url("/v1/orgs/acme/policy"))
                .bearer_auth(&app.admin)
                .json(&json!({"allow_platform_fallback": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get("/v1/availability?org=acme", &svc).await;
    assert_eq!(entry(&r.body, "groq")["reason"], "no_credential");
    assert_eq!(r.body["user"], Value::Null);
}

async fn availability_respects_ownership(engine: Engine) {
    let (app, _fakes) = app_with_fakes(engine, Layer::default(), &[]).await;
    let svc = app.service_token().await;
    let platform = create(
        &app,
        &app.admin,
        json!({"owner": "platform", "provider": "openai", "fields": fields("openai", Scenario::Good)}),
    )
    .await;
    let alice = app.user_token("alice", &["acme"]).await;

    // A user token: itself by default, and the orgs it manages; nobody else.
    let r = app.get("/v1/availability", &alice).await;
    assert_eq!((r.status, r.body["user"].as_str()), (200, Some("alice")), "{}", r.text);
    // It learns that a platform key serves it, not which one.
    assert_eq!(
        entry(&r.body, "openai"),
        &json!({"provider": "openai", "usable": true, "source": "platform", "credential_id": null, "status": "unverified", "reason": null})
    );
    assert_eq!(app.get("/v1/availability?user=alice&org=acme", &alice).await.status, 200);
    app.get("/v1/availability?user=bob", &alice).await.assert_problem(403, "forbidden");
    app.get("/v1/availability?org=globex", &alice).await.assert_problem(403, "forbidden");
    // A service sees the platform credential it would be given.
    let r = app.get("/v1/availability?user=bob", &svc).await;
    assert_eq!(entry(&r.body, "openai")["credential_id"], platform.as_str());

    app.get("/v1/availability?user=", &svc).await.assert_problem(422, "invalid_field");
    app.get("/v1/availability?user=a%20b", &svc).await.assert_problem(422, "invalid_field");
    app.get("/v1/availability?colour=red", &svc).await.assert_problem(400, "invalid_query");
    app.get("/v1/availability", "byok_svc_nope").await.assert_problem(401, "unauthorized");
}
