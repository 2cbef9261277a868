//! Per-minute limits: `rate_limit_per_minute` of a virtual key holds across instances
//! under concurrent clients; a credential at its limit passes requests to the owner's
//! next key, and with none left the caller gets 429 `rate_limited` with `retry-after`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use byok::config::Layer;
use byok_core::{ManualClock, Timestamp};
use byok_fakes::{FakeProviders, Scenario, fields};
use serde_json::{Value, json};

use super::{Processes, World};
use crate::both_engines;
use crate::support::{AppOptions, Engine, TEST_KEY, TestDb, spawn_with};

both_engines!(
    a_virtual_keys_minute_limit_holds_across_two_instances,
    a_credentials_minute_limit_moves_requests_to_the_next_key,
    a_refused_limited_credential_gives_its_unit_back
);

const LIMIT: usize = 40;
const CLIENTS: usize = 32;
const REQUESTS_PER_CLIENT: usize = 4;

/// Waits, if needed, until at least `secs` seconds are left in this calendar minute, so
/// that a burst of requests falls into one minute.
async fn with_time_left_in_the_minute(secs: u64) {
    let into = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() % 60_000;
    let left = 60_000 - into as u64;
    if left < secs * 1000 {
        tokio::time::sleep(Duration::from_millis(left + 50)).await;
    }
}

async fn a_virtual_keys_minute_limit_holds_across_two_instances(engine: Engine) {
    let world = Processes::new(engine).await;
    let (a, b) = (world.start(), world.start());
    let client = reqwest::Client::new();
    let owned = world.owner(&a, "user:mia").await;
    let minted = client
        .post(format!("{}/v1/tokens", a.base))
        .bearer_auth(&owned.svc)
        .json(&json!({"role": "virtual", "owner": "user:mia", "providers": ["openai"], "rate_limit_per_minute": LIMIT}))
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), 201);
    let minted: Value = minted.json().await.unwrap();
    assert_eq!(minted["rate_limit_per_minute"], LIMIT);
    let key = minted["token"].as_str().unwrap().to_owned();

    with_time_left_in_the_minute(20).await;
    let chat = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let clients = (0..CLIENTS).map(|i| {
        let (client, key, chat) = (client.clone(), key.clone(), chat.clone());
        let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
        tokio::spawn(async move {
            let mut answers = Vec::new();
            for _ in 0..REQUESTS_PER_CLIENT {
                let r = client
                    .post(format!("{base}/v1/proxy/openai/v1/chat/completions"))
                    .bearer_auth(&key)
                    .json(&chat)
                    .send()
                    .await
                    .unwrap();
                let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap();
                answers.push((status, retry_after, body));
            }
            answers
        })
    });
    let mut answers = Vec::new();
    for client in clients {
        answers.extend(client.await.unwrap());
    }
    let admitted = answers.iter().filter(|(status, ..)| *status == 200).count();
    let refused: Vec<_> = answers.iter().filter(|(status, ..)| *status != 200).collect();
    assert_eq!(admitted + refused.len(), CLIENTS * REQUESTS_PER_CLIENT);
    assert!(admitted <= LIMIT, "{admitted} requests admitted in one minute over a limit of {LIMIT}");
    // Units leased by one instance and not spent are lost to the minute: at most an
    // eighth of what was left, and both instances kept asking until the end.
    assert!(admitted >= LIMIT - LIMIT / 8, "only {admitted} of {LIMIT} admitted");
    for (status, retry_after, body) in refused {
        assert_eq!(*status, 429, "{body}");
        assert_eq!(body["error"]["code"], "rate_limited", "OpenAI's error shape: {body}");
        assert!(retry_after.is_some_and(|s| (1..=60).contains(&s)), "retry-after {retry_after:?}");
    }
    let minute_rows = world.db.count("SELECT count(*) FROM minute_windows").await;
    assert_eq!(minute_rows, 1, "one row for the key's minute, however many requests");
}

/// byok on a clock the test moves, 20 s into a minute.
async fn world_on(engine: Engine, clock: Arc<ManualClock>) -> World {
    let fakes = FakeProviders::start().await.expect("fakes start");
    let settings = Layer { master_key: Some(TEST_KEY.to_owned()), reverify_interval_secs: Some(0), ..Layer::default() };
    let options = AppOptions { settings, env: fakes.env_vars(), clock };
    let app = spawn_with(TestDb::fresh(engine).await, options).await;
    let svc = app.service_token().await;
    World { app, fakes, svc }
}

fn twenty_seconds_into_a_minute() -> Timestamp {
    let now = Timestamp::now().millis();
    Timestamp::from_millis(now - now % 60_000 + 20_000)
}

async fn a_credentials_minute_limit_moves_requests_to_the_next_key(engine: Engine) {
    let start = twenty_seconds_into_a_minute();
    let clock = Arc::new(ManualClock::new(start));
    let w = world_on(engine, clock.clone()).await;
    let body = json!({"owner": "user:kai", "provider": "openai", "label": "limited", "rate_limit_per_minute": 2,
        "fields": fields("openai", Scenario::Good)});
    let r = w.app.post("/v1/credentials", &w.svc, body).await;
    assert_eq!((r.status, &r.body["usage"]["rate_limit_per_minute"]), (201, &json!(2)), "{}", r.text);
    let limited = r.body["id"].as_str().unwrap().to_owned();
    let other = w.credential("user:kai", "openai", None).await;
    w.app.patch(&format!("/v1/credentials/{other}"), &w.svc, json!({"priority": 5})).await;
    let resolve = || w.app.post("/v1/resolve", &w.svc, json!({"provider": "openai", "user": "kai"}));

    let mut served = Vec::new();
    for _ in 0..3 {
        let r = resolve().await;
        assert_eq!(r.status, 200, "{}", r.text);
        served.push(r.body["credential_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(served, [limited.clone(), limited.clone(), other.clone()], "two of the limited key, then the next");
    let (_, key) = w.virtual_key("user:kai", &["openai"], None).await;
    let chat = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(w.post_json("openai", "/v1/chat/completions", &key, &chat).await.status, 200);
    w.eventually(&format!("/v1/credentials/{other}"), |c| c["usage"]["total"] == 2).await;

    // With the next key disabled, the owner's tier has none left this minute.
    w.app.patch(&format!("/v1/credentials/{other}"), &w.svc, json!({"enabled": false})).await;
    let r = resolve().await;
    r.assert_problem(429, "rate_limited");
    assert_eq!(r.headers["retry-after"], "40", "seconds to the end of the minute");
    let refused = w.post_json("openai", "/v1/chat/completions", &key, &chat).await;
    assert_eq!((refused.status, &refused.body["error"]["code"]), (429, &json!("rate_limited")), "{}", refused.text);
    assert_eq!(refused.body["error"]["type"], "requests", "{}", refused.text);
    assert_eq!(refused.headers["retry-after"], "40");
    assert_eq!(w.fakes.requests_to("openai").len(), 1, "refused requests never reach the provider");

    // The next minute has its own requests.
    clock.set(Timestamp::from_millis(start.millis() + 60_000));
    let r = resolve().await;
    assert_eq!((r.status, r.body["credential_id"].as_str()), (200, Some(limited.as_str())), "{}", r.text);
    let view = w.eventually(&format!("/v1/credentials/{limited}"), |c| c["usage"]["total"] == 3).await;
    assert_eq!(view["usage"]["rate_limit_per_minute"], 2);

    let path = format!("/v1/credentials/{limited}");
    for bad in [json!(0), json!(-1), json!("often"), json!(1_000_000_001_i64)] {
        let r = w.app.patch(&path, &w.svc, json!({"rate_limit_per_minute": bad})).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
    let r = w.app.patch(&path, &w.svc, json!({"rate_limit_per_minute": null})).await;
    assert_eq!((r.status, &r.body["usage"]["rate_limit_per_minute"]), (200, &json!(null)), "{}", r.text);
    for _ in 0..3 {
        assert_eq!(resolve().await.status, 200, "no limit once removed");
    }
    let r = w.app.post("/v1/tokens", &w.app.admin, json!({"role": "service", "rate_limit_per_minute": 5})).await;
    assert_eq!(r.status, 422, "only virtual keys have a per-minute limit: {}", r.text);
    let r = w
        .app
        .post(
            "/v1/tokens",
            &w.svc,
            json!({"role": "virtual", "owner": "user:kai", "providers": ["*"], "rate_limit_per_minute": 0}),
        )
        .await;
    r.assert_problem(422, "invalid_field");
}

/// A credential with a monthly limit takes its unit before its minute is checked: a
/// request its minute refuses gives the unit back, and the audit log says the secret
/// did not go out.
async fn a_refused_limited_credential_gives_its_unit_back(engine: Engine) {
    let clock = Arc::new(ManualClock::new(twenty_seconds_into_a_minute()));
    let w = world_on(engine, clock).await;
    let body = json!({"owner": "user:ana", "provider": "openai", "monthly_limit": 10, "rate_limit_per_minute": 1,
        "fields": fields("openai", Scenario::Good)});
    let r = w.app.post("/v1/credentials", &w.svc, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let resolve = || w.app.post("/v1/resolve", &w.svc, json!({"provider": "openai", "user": "ana"}));
    assert_eq!(resolve().await.status, 200);
    for _ in 0..2 {
        resolve().await.assert_problem(429, "rate_limited");
    }
    let (_, key) = w.virtual_key("user:ana", &["openai"], None).await;
    let chat = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(w.post_json("openai", "/v1/chat/completions", &key, &chat).await.status, 429);

    let view = w.app.get(&format!("/v1/credentials/{id}"), &w.svc).await;
    assert_eq!((&view.body["usage"]["total"], &view.body["usage"]["period"]), (&json!(1), &json!(1)), "{}", view.text);
    let audit = w.app.get(&format!("/v1/audit?credential={id}"), &w.app.admin).await;
    let outcomes: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().filter_map(|e| e["outcome"].as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "rate_limited").count(), 3, "{}", audit.text);
}
