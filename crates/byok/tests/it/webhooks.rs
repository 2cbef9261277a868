//! Webhooks: endpoints (admin only, checked input), every event type with its data and
//! no secret, Standard Webhooks signatures verified by the `standardwebhooks` library as
//! a receiver would, retries with one `webhook-id`, a final refusal, a manual retry,
//! thresholds that fire once across instances, nothing lost to `kill -9`, an endpoint
//! disabled after failing for long, and old deliveries pruned.

use std::sync::Arc;
use std::time::Duration;

use byok::config::Layer;
use byok_core::{Clock, ManualClock, Timestamp};
use byok_crypto::generate_token;
use byok_fakes::{Delivered, FakeProviders, Scenario, WebhookReceiver, fields};
use serde_json::{Value, json};

use crate::both_engines;
use crate::proxy::{World, world_with};
use crate::support::{
    AppOptions, Engine, ServeProcess, TEST_KEY, TestApp, TestDb, canary, python_json, spawn_app, spawn_with,
};

both_engines!(
    endpoints_are_for_admins_and_check_their_input,
    credential_events_arrive_signed_in_order_and_without_secrets,
    usage_thresholds_of_credentials_and_virtual_keys,
    a_threshold_fires_once_across_two_instances_and_64_callers,
    a_failing_receiver_is_retried_with_one_id_and_a_refusal_is_final,
    kill_9_between_commit_and_delivery_loses_nothing,
    an_endpoint_failing_for_long_is_disabled_and_old_deliveries_are_pruned,
);

const ALL_EVENTS: [&str; 6] = [
    "credential.created",
    "credential.updated",
    "credential.deleted",
    "credential.status_changed",
    "credential.usage_threshold",
    "virtual_key.usage_threshold",
];
const WAIT: Duration = Duration::from_secs(20);

/// Creates an endpoint for `events` at `url`; returns (id, secret).
async fn subscribe(app: &TestApp, url: &str, events: &[&str]) -> (String, String) {
    let r = app.post("/v1/webhooks", &app.admin, json!({"url": url, "events": events})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    (r.body["id"].as_str().unwrap().to_owned(), r.body["secret"].as_str().unwrap().to_owned())
}

/// The payloads of `deliveries` whose signatures the `standardwebhooks` library
/// verifies with `secret`, and how many it refused.
fn verify(secret: &str, deliveries: &[Delivered]) -> (Vec<Value>, u64) {
    let spec = json!({
        "secret": secret,
        "deliveries": deliveries.iter().map(|d| json!({"headers": d.headers, "body": d.body})).collect::<Vec<_>>(),
    });
    let answer = python_json("verify_webhooks.py", &spec);
    (answer["verified"].as_array().unwrap().clone(), answer["refused"].as_u64().unwrap())
}

fn types(payloads: &[Value]) -> Vec<String> {
    payloads.iter().map(|p| p["type"].as_str().unwrap().to_owned()).collect()
}

async fn endpoints_are_for_admins_and_check_their_input(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let body = json!({"url": "https://hooks.example.com/byok", "events": ["credential.created"]});
    app.post("/v1/webhooks", &svc, body.clone()).await.assert_problem(403, "forbidden");
    app.get("/v1/webhooks", &svc).await.assert_problem(403, "forbidden");
    for (url, code) in [
        ("not a url", "invalid_url"),
        ("ftp://hooks.example.com/x", "invalid_url"),
        ("https://user:pw@hooks.example.com/x", "invalid_url"),
        ("http://127.0.0.1:9/hooks", "private_address"),
        ("http://10.1.2.3/hooks", "private_address"),
        ("http://[::1]/hooks", "private_address"),
        ("http://localhost/hooks", "private_address"),
    ] {
        let r = app.post("/v1/webhooks", &app.admin, json!({"url": url, "events": ["credential.created"]})).await;
        r.assert_problem(422, code);
    }
    for events in [json!([]), json!(["credential.eaten"]), json!(["credential.created", "nope"])] {
        let r =
            app.post("/v1/webhooks", &app.admin, json!({"url": "https://hooks.example.com/x", "events": events})).await;
        r.assert_problem(422, "unknown_event");
    }
    app.post("/v1/webhooks", &app.admin, json!({"url": "https://hooks.example.com/x"}))
        .await
        .assert_problem(422, "invalid_field");
    assert!(
        app.get("/v1/webhooks", &app.admin).await.body["items"].as_array().unwrap().is_empty(),
        "nothing half made"
    );

    let r = app.post("/v1/webhooks", &app.admin, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (id, secret) = (r.body["id"].as_str().unwrap().to_owned(), r.body["secret"].as_str().unwrap().to_owned());
    assert!(secret.starts_with("whsec_") && secret.len() > 30, "{secret}");
    let listed = app.get("/v1/webhooks", &app.admin).await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    assert_eq!(listed.body["items"][0]["events"], json!(["credential.created"]));
    assert!(!listed.text.contains(&secret[6..]), "the secret is shown once only");
    let key = base64_decode(&secret[6..]);
    let stored = app.db().all_bytes().await;
    assert!(!contains(&stored, &secret.as_bytes()[6..]) && !contains(&stored, &key), "the secret is stored sealed");
    assert!(!app.logs().contains(&secret[6..]), "the secret is never logged");
    assert_eq!(app.get(&format!("/v1/webhooks/{id}/deliveries"), &app.admin).await.status, 200);
    assert_eq!(app.delete(&format!("/v1/webhooks/{id}"), &app.admin).await.status, 204);
    app.delete(&format!("/v1/webhooks/{id}"), &app.admin).await.assert_problem(404, "not_found");
    app.get(&format!("/v1/webhooks/{id}/deliveries"), &app.admin).await.assert_problem(404, "not_found");
    let audit = app.get("/v1/audit?action=webhook.create", &app.admin).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn credential_events_arrive_signed_in_order_and_without_secrets(engine: Engine) {
    let w = world_with(engine, Layer::default()).await;
    let receiver = WebhookReceiver::start().await.unwrap();
    let (_, secret) = subscribe(&w.app, &receiver.url, &ALL_EVENTS).await;
    let secret_key = canary("sk-");
    let r = w
        .app
        .post(
            "/v1/credentials",
            &w.svc,
            json!({"owner": "user:alice", "provider": "openai", "label": "main", "fields": {"api_key": secret_key}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(w.app.patch(&format!("/v1/credentials/{id}"), &w.svc, json!({"label": "renamed"})).await.status, 200);
    // The fake refuses the canary key: the test marks it failing.
    assert_eq!(w.app.post(&format!("/v1/credentials/{id}/test"), &w.svc, json!({})).await.status, 200);
    assert_eq!(w.app.delete(&format!("/v1/credentials/{id}"), &w.svc).await.status, 204);

    let delivered = receiver.wait_for(5, WAIT).await;
    let (payloads, refused) = verify(&secret, &delivered);
    assert_eq!(refused, 0, "every signature verifies");
    assert_eq!(
        types(&payloads),
        ["credential.created", "credential.updated", "credential.status_changed", "credential.deleted"],
        "in the order they happened: {payloads:#?}"
    );
    for p in &payloads {
        assert_eq!(p["data"]["credential_id"], id.as_str());
        assert_eq!(p["data"]["owner"], "user:alice");
        assert_eq!(p["data"]["provider"], "openai");
        assert!(p["timestamp"].is_string());
    }
    assert_eq!(payloads[0]["data"]["label"], "main");
    assert_eq!(payloads[1]["data"]["label"], "renamed");
    let changed = &payloads[2]["data"];
    assert_eq!((changed["from"].as_str(), changed["to"].as_str()), (Some("unverified"), Some("error")));
    assert!(changed["message"].as_str().is_some_and(|m| !m.is_empty()), "{changed}");
    let ids: std::collections::HashSet<&str> = delivered.iter().map(|d| d.header("webhook-id")).collect();
    assert_eq!(ids.len(), delivered.len(), "one id per event");
    for d in &delivered {
        assert!(
            !d.body.contains(&secret_key) && !format!("{:?}", d.headers).contains(&secret_key),
            "no secret in a delivery"
        );
    }
    // A forged signature is refused by the receiver's library.
    let mut forged = delivered[0].clone();
    forged.body = forged.body.replace("user:alice", "user:mallory");
    assert_eq!(verify(&secret, &[forged]).1, 1);
}

async fn usage_thresholds_of_credentials_and_virtual_keys(engine: Engine) {
    let w = world_with(engine, Layer::default()).await;
    let receiver = WebhookReceiver::start().await.unwrap();
    let (_, secret) =
        subscribe(&w.app, &receiver.url, &["credential.usage_threshold", "virtual_key.usage_threshold"]).await;
    let credential = w.credential("user:bob", "openai", Some(5)).await;
    let ask = json!({"provider": "openai", "user": "bob"});
    for _ in 0..5 {
        assert_eq!(w.app.post("/v1/resolve", &w.svc, ask.clone()).await.status, 200);
    }
    w.app.post("/v1/resolve", &w.svc, ask).await.assert_problem(429, "quota_exhausted");
    let (key_id, key) = w.virtual_key("user:carol", &["openai"], Some(10)).await;
    w.credential("user:carol", "openai", None).await;
    let chat = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..10 {
        assert_eq!(w.post_json("openai", "/v1/chat/completions", &key, &chat).await.status, 200);
    }
    let delivered = receiver.wait_for(4, WAIT).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let delivered_after = receiver.received();
    assert_eq!(delivered_after.len(), delivered.len(), "no threshold fires twice");
    let (payloads, refused) = verify(&secret, &delivered_after);
    assert_eq!(refused, 0);
    let mut seen: Vec<(String, String, f64, i64, i64)> = payloads
        .iter()
        .map(|p| {
            let d = &p["data"];
            let subject = d["credential_id"].as_str().or(d["virtual_key_id"].as_str()).unwrap().to_owned();
            (
                p["type"].as_str().unwrap().to_owned(),
                subject,
                d["threshold"].as_f64().unwrap(),
                d["used"].as_i64().unwrap(),
                d["limit"].as_i64().unwrap(),
            )
        })
        .collect();
    seen.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(
        seen,
        vec![
            ("credential.usage_threshold".into(), credential.clone(), 0.8, 4, 5),
            ("credential.usage_threshold".into(), credential, 1.0, 5, 5),
            ("virtual_key.usage_threshold".into(), key_id.clone(), 0.8, 8, 10),
            ("virtual_key.usage_threshold".into(), key_id, 1.0, 10, 10),
        ]
    );
    let vk = payloads.iter().find(|p| p["type"] == "virtual_key.usage_threshold").unwrap();
    assert_eq!(vk["data"]["owner"], "user:carol");
}

/// The environment of a `byok serve` process on `db` with the bootstrap `admin` that
/// may deliver to loopback receivers, and `extra` on top.
fn serve_envs<'a>(db: &'a TestDb, admin: &'a str, extra: (&'a str, &'a str)) -> [(&'a str, &'a str); 6] {
    [
        ("BYOK_MASTER_KEY", TEST_KEY),
        ("DATABASE_URL", db.url.as_str()),
        ("BYOK_ADMIN_TOKEN", admin),
        ("BYOK_ALLOW_PRIVATE_NETWORKS", "true"),
        ("BYOK_TEST_NEW_CREDENTIALS", "false"),
        extra,
    ]
}

async fn a_threshold_fires_once_across_two_instances_and_64_callers(engine: Engine) {
    let db = TestDb::fresh(engine).await;
    let receiver = WebhookReceiver::start().await.unwrap();
    let admin = generate_token("byok_adm_");
    let envs = serve_envs(&db, &admin, ("BYOK_USAGE_ALERT_THRESHOLDS", "0.5,0.8,1.0"));
    let a = ServeProcess::start(&envs);
    let b = ServeProcess::start(&envs);
    let client = reqwest::Client::new();
    let post = |url: String, token: &str, body: Value| {
        let request = client.post(url).bearer_auth(token).json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let events = json!({"url": receiver.url, "events": ["credential.usage_threshold"]});
    let hook = post(format!("{}/v1/webhooks", a.base), &admin, events).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let svc = post(format!("{}/v1/tokens", a.base), &admin, json!({"role": "service"})).await;
    let svc = svc["token"].as_str().unwrap().to_owned();
    let limited = json!({"owner": "user:alice", "provider": "openai", "monthly_limit": 20, "fields": {"api_key": "sk-limited-aaaaaaaaaaaaaaaa"}});
    let id = post(format!("{}/v1/credentials", b.base), &svc, limited).await["id"].as_str().unwrap().to_owned();
    let granted = crate::metering::race_to_the_limit(vec![a.base.clone(), b.base.clone()], svc, "alice").await;
    assert_eq!(granted, 20);
    assert_eq!(receiver.wait_for(3, WAIT).await.len(), 3);
    // Both instances keep polling: a second delivery of any event would arrive by now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let delivered = receiver.received();
    let (payloads, refused) = verify(&secret, &delivered);
    assert_eq!(refused, 0);
    let mut fired: Vec<(f64, i64)> = payloads
        .iter()
        .map(|p| (p["data"]["threshold"].as_f64().unwrap(), p["data"]["used"].as_i64().unwrap()))
        .collect();
    fired.sort_by(|x, y| x.partial_cmp(y).unwrap());
    assert_eq!(fired, vec![(0.5, 10), (0.8, 16), (1.0, 20)], "each threshold once, by the unit that reached it");
    assert!(payloads.iter().all(|p| p["data"]["credential_id"] == id.as_str()));
}

async fn a_failing_receiver_is_retried_with_one_id_and_a_refusal_is_final(engine: Engine) {
    let settings = Layer { webhook_retry_schedule: Some("1,1,1".into()), ..Layer::default() };
    let w = world_with(engine, settings).await;
    let flaky = WebhookReceiver::start().await.unwrap();
    flaky.answer_with(&[500, 503]);
    let gone = WebhookReceiver::start().await.unwrap();
    gone.answer_with(&[410]);
    let (flaky_id, flaky_secret) = subscribe(&w.app, &flaky.url, &["credential.created"]).await;
    let (gone_id, _) = subscribe(&w.app, &gone.url, &["credential.created"]).await;
    w.credential("user:dave", "openai", None).await;

    let attempts = flaky.wait_for(3, WAIT).await;
    assert_eq!(attempts.len(), 3, "500, 503, then 204");
    let id = attempts[0].header("webhook-id");
    assert!(id.starts_with("msg_"));
    assert!(attempts.iter().all(|a| a.header("webhook-id") == id), "the same webhook-id on every attempt");
    assert_eq!(verify(&flaky_secret, &attempts).1, 0);
    let listed = eventually(&w, &flaky_id, |d| d["state"] == "delivered").await;
    assert_eq!((listed["attempts"].as_i64(), listed["last_status"].as_i64()), (Some(3), Some(204)));
    assert_eq!(listed["id"], id);

    let refused = eventually(&w, &gone_id, |d| d["state"] == "failed").await;
    assert_eq!((refused["attempts"].as_i64(), refused["last_status"].as_i64()), (Some(1), Some(410)));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(gone.received().len(), 1, "no retry after a 410");

    let delivery = refused["id"].as_str().unwrap();
    let r = w.app.post(&format!("/v1/webhooks/{gone_id}/deliveries/{delivery}/retry"), &w.app.admin, json!({})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let again = gone.wait_for(2, WAIT).await;
    assert_eq!(again.len(), 2);
    assert_eq!(again[1].header("webhook-id"), again[0].header("webhook-id"), "a manual retry keeps the id");
    eventually(&w, &gone_id, |d| d["state"] == "delivered").await;
    let r = w.app.post(&format!("/v1/webhooks/{gone_id}/deliveries/msg_nothing/retry"), &w.app.admin, json!({})).await;
    r.assert_problem(404, "not_found");
}

/// The newest delivery of an endpoint once `done` holds for it.
async fn eventually(w: &World, webhook: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let r = w.app.get(&format!("/v1/webhooks/{webhook}/deliveries"), &w.app.admin).await;
        let newest = r.body["items"][0].clone();
        if done(&newest) {
            return newest;
        }
        assert!(tokio::time::Instant::now() < deadline, "delivery never got there: {}", r.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn kill_9_between_commit_and_delivery_loses_nothing(engine: Engine) {
    let db = TestDb::fresh(engine).await;
    let receiver = WebhookReceiver::start().await.unwrap();
    receiver.hang();
    let admin = generate_token("byok_adm_");
    let envs = serve_envs(&db, &admin, ("BYOK_WEBHOOK_TIMEOUT_SECS", "1"));
    let first = ServeProcess::start(&envs);
    let client = reqwest::Client::new();
    let hook: Value = client
        .post(format!("{}/v1/webhooks", first.base))
        .bearer_auth(&admin)
        .json(&json!({"url": receiver.url, "events": ["credential.created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = client
        .post(format!("{}/v1/credentials", first.base))
        .bearer_auth(&admin)
        .json(&json!({"owner": "user:erin", "provider": "openai", "fields": {"api_key": "sk-kill-nine-aaaaaaaaaaaa"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // The event is committed and its first attempt is in flight: kill -9 now.
    assert_eq!(receiver.wait_for(1, WAIT).await.len(), 1);
    drop(first);
    receiver.answer_normally();
    let _second = ServeProcess::start(&envs);
    let delivered = receiver.wait_for(2, WAIT).await;
    assert_eq!(delivered.len(), 2, "the event arrives again after the restart");
    assert_eq!(delivered[1].header("webhook-id"), delivered[0].header("webhook-id"));
    let (payloads, refused) = verify(hook["secret"].as_str().unwrap(), &delivered);
    assert_eq!(refused, 0);
    assert_eq!(types(&payloads), ["credential.created", "credential.created"], "the same event, at least once");
}

async fn an_endpoint_failing_for_long_is_disabled_and_old_deliveries_are_pruned(engine: Engine) {
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let fakes = FakeProviders::start().await.unwrap();
    let settings = Layer {
        master_key: Some(TEST_KEY.to_owned()),
        reverify_interval_secs: Some(0),
        webhook_retry_schedule: Some("60,60,60".into()),
        webhook_disable_after_hours: Some(24),
        webhook_retention_days: Some(7),
        ..Layer::default()
    };
    let options = AppOptions { settings, env: fakes.env_vars(), clock: clock.clone() };
    let app = spawn_with(TestDb::fresh(engine).await, options).await;
    let svc = app.service_token().await;
    let down = WebhookReceiver::start().await.unwrap();
    down.answer_with(&[500; 10]);
    let up = WebhookReceiver::start().await.unwrap();
    let (down_id, _) = subscribe(&app, &down.url, &["credential.created"]).await;
    subscribe(&app, &up.url, &["credential.created"]).await;
    let good = fields("openai", Scenario::Good).unwrap();
    let r =
        app.post("/v1/credentials", &svc, json!({"owner": "user:finn", "provider": "openai", "fields": good})).await;
    assert_eq!(r.status, 201);
    assert_eq!(down.wait_for(1, WAIT).await.len(), 1);
    assert_eq!(up.wait_for(1, WAIT).await.len(), 1);

    // A day and a minute later the retry is due, fails again, and the endpoint has
    // failed for longer than a day: disabled, and audited.
    clock.set(Timestamp::from_millis(clock.now().millis() + 24 * 3600 * 1000 + 61_000));
    assert_eq!(down.wait_for(2, WAIT).await.len(), 2);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let listed = app.get("/v1/webhooks", &app.admin).await;
        let hook =
            listed.body["items"].as_array().unwrap().iter().find(|h| h["id"] == down_id.as_str()).unwrap().clone();
        if hook["enabled"] == false {
            assert!(hook["disabled_at"].is_string());
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never disabled: {}", listed.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let audit = app.get("/v1/audit?action=webhook.disabled", &app.admin).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1, "{}", audit.text);
    clock.set(Timestamp::from_millis(clock.now().millis() + 3 * 24 * 3600 * 1000));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(down.received().len(), 2, "a disabled endpoint gets nothing");

    // Eight days on, the delivered one is past its retention and goes; the pending one
    // of the disabled endpoint stays.
    clock.set(Timestamp::from_millis(clock.now().millis() + 8 * 24 * 3600 * 1000));
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.db().count("SELECT count(*) FROM webhook_deliveries").await != 1 {
        assert!(tokio::time::Instant::now() < deadline, "old deliveries never pruned");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.db().count("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'").await, 1);
}
