//! Metering: exact monthly limits under concurrency and across instances, and
//! periods that roll over by themselves.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use byok_core::{ManualClock, Timestamp};
use byok_crypto::generate_token;
use serde_json::json;

use crate::both_engines;
use crate::support::{AppOptions, Engine, ServeProcess, TEST_KEY, TestDb, spawn_app, spawn_with};

const CLIENTS: usize = 64;
const LIMIT: usize = 100;

both_engines!(exact_limit_under_64_concurrent_clients, month_rollover_keeps_history);

/// 64 clients, each with its own connections, resolve until refused; returns grants.
pub(crate) async fn race_to_the_limit(bases: Vec<String>, svc: String, user: &str) -> usize {
    let granted = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (base, svc, granted, user) =
            (bases[i % bases.len()].clone(), svc.clone(), granted.clone(), user.to_owned());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let r = client
                    .post(format!("{base}/v1/resolve"))
                    .bearer_auth(&svc)
                    .json(&json!({"provider": "openai", "user": user}))
                    .send()
                    .await
                    .unwrap();
                match r.status().as_u16() {
                    200 => {
                        granted.fetch_add(1, Ordering::SeqCst);
                    }
                    429 => break,
                    other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    granted.load(Ordering::SeqCst)
}

async fn exact_limit_under_64_concurrent_clients(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let r = app
        .post("/v1/credentials", &svc, json!({"owner": "user:alice", "provider": "openai", "monthly_limit": LIMIT, "fields": {"api_key": "sk-limited-aaaaaaaaaaaaaaaa"}}))
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let granted = race_to_the_limit(vec![app.base.clone()], svc.clone(), "alice").await;
    assert_eq!(granted, LIMIT, "exactly the limit is granted");
    let view = app.get(&format!("/v1/credentials/{id}"), &svc).await;
    assert_eq!(view.body["usage"]["period"], LIMIT);
    assert_eq!(view.body["usage"]["total"], LIMIT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_share_one_exact_limit_on_postgres() {
    let db = TestDb::fresh(Engine::Postgres).await;
    let admin = generate_token("byok_adm_");
    let envs = [("BYOK_MASTER_KEY", TEST_KEY), ("DATABASE_URL", db.url.as_str()), ("BYOK_ADMIN_TOKEN", admin.as_str())];
    let a = ServeProcess::start(&envs);
    let b = ServeProcess::start(&envs);
    let client = reqwest::Client::new();
    let svc: serde_json::Value = client
        .post(format!("{}/v1/tokens", a.base))
        .bearer_auth(&admin)
        .json(&json!({"role": "service"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let svc = svc["token"].as_str().unwrap().to_owned();
    let created = client
        .post(format!("{}/v1/credentials", b.base))
        .bearer_auth(&svc)
        .json(&json!({"owner": "user:alice", "provider": "openai", "monthly_limit": LIMIT, "fields": {"api_key": "sk-limited-aaaaaaaaaaaaaaaa"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let granted = race_to_the_limit(vec![a.base.clone(), b.base.clone()], svc.clone(), "alice").await;
    assert_eq!(granted, LIMIT, "two instances on one database grant exactly the limit");
    let usage: serde_json::Value = client
        .get(format!("{}/v1/usage?owner=user:alice", a.base))
        .bearer_auth(&svc)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(usage["items"][0]["periods"][0]["requests"], LIMIT);
}

async fn month_rollover_keeps_history(engine: Engine) {
    let november_end = Timestamp::from_millis(1_796_083_140_000); // 2026-11-30T23:59:00Z
    let december = Timestamp::from_millis(1_796_083_200_000); // 2026-12-01T00:00:00Z
    assert_eq!(december.to_rfc3339(), "2026-12-01T00:00:00Z");
    let clock = Arc::new(ManualClock::new(november_end));
    let app =
        spawn_with(TestDb::fresh(engine).await, AppOptions { clock: clock.clone(), ..AppOptions::default() }).await;
    let svc = app.service_token().await;
    let r = app
        .post("/v1/credentials", &svc, json!({"owner": "user:alice", "provider": "openai", "monthly_limit": 2, "fields": {"api_key": "sk-limited-aaaaaaaaaaaaaaaa"}}))
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["usage"]["period_start"], "2026-11-01T00:00:00Z");
    let ask = json!({"provider": "openai", "user": "alice"});
    for _ in 0..2 {
        assert_eq!(app.post("/v1/resolve", &svc, ask.clone()).await.status, 200);
    }
    app.post("/v1/resolve", &svc, ask.clone()).await.assert_problem(429, "quota_exhausted");

    clock.set(december);
    // Before any resolve in December, the views already read the new period.
    let view = app.get(&format!("/v1/credentials/{id}"), &svc).await;
    assert_eq!(
        (view.body["usage"]["period"].clone(), view.body["usage"]["period_start"].clone()),
        (json!(0), json!("2026-12-01T00:00:00Z"))
    );
    let r = app.post("/v1/resolve", &svc, ask.clone()).await;
    assert_eq!(r.status, 200, "the new month brings a new allowance: {}", r.text);

    let alice = app.user_token("alice", &[]).await;
    let usage = app.get("/v1/usage", &alice).await;
    assert_eq!(usage.status, 200, "{}", usage.text);
    let item = &usage.body["items"][0];
    assert_eq!(item["credential_id"], id.as_str());
    assert_eq!(item["total"], 3);
    assert_eq!(
        item["periods"],
        json!([
            {"period_start": "2026-12-01T00:00:00Z", "requests": 1, "current": true},
            {"period_start": "2026-11-01T00:00:00Z", "requests": 2, "current": false},
        ])
    );
    // Another user's usage is not visible to alice.
    app.get("/v1/usage?owner=user:bob", &alice).await.assert_problem(403, "forbidden");
}
