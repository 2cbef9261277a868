//! `byok rotate-key` killed at random points while the service serves, then run again.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use byok::config::Layer;
use byok_crypto::Keyring;
use serde_json::json;

use crate::both_engines;
use crate::support::{Engine, OTHER_KEY, TEST_KEY, spawn_app, spawn_on};

const USERS: usize = 300;
const KILLS: usize = 10;

both_engines!(rotation_survives_kills_while_serving);

fn rotate(keys: &str, url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_byok"));
    cmd.args(["rotate-key", "--batch-size", "10"])
        .env_clear()
        .env("BYOK_MASTER_KEYS", keys)
        .env("DATABASE_URL", url)
        .stdin(Stdio::null());
    cmd
}

async fn rotation_survives_kills_while_serving(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    for chunk in (0..USERS).collect::<Vec<_>>().chunks(50) {
        let creates = chunk.iter().map(|i| {
            let (app, svc) = (&app, &svc);
            async move {
                let (owner, key) = (format!("user:r{i}"), format!("sk-rotate-key-of-user-{i:05}"));
                app.create_openai(svc, Some(&owner), &key).await
            }
        });
        futures::future::join_all(creates).await;
    }
    let hook = json!({"url": "https://hooks.example.com/byok", "events": ["credential.deleted"]});
    assert_eq!(app.post("/v1/webhooks", &app.admin, hook).await.status, 201);
    let db = app.stop().await;

    // The service restarts with the new key first; old secrets still open under k1.
    let keys = format!("k2:{OTHER_KEY},k1:{TEST_KEY}");
    let app = spawn_on(db, Layer { master_keys: Some(keys.clone()), ..Layer::default() }).await;
    let svc = app.service_token().await;
    let (stop, served, failed) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (base, svc, stop, served, failed) =
            (app.base.clone(), svc.clone(), stop.clone(), served.clone(), failed.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let user = format!("r{}", (i * 7) % USERS);
                let r = client
                    .post(format!("{base}/v1/resolve"))
                    .bearer_auth(&svc)
                    .json(&json!({"provider": "openai", "user": user}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => served.fetch_add(1, Ordering::SeqCst),
                    _ => failed.fetch_add(1, Ordering::SeqCst),
                };
            }
        })
    };

    let url = app.db().url.clone();
    for _ in 0..KILLS {
        let mut child = rotate(&keys, &url).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let pause = 20 + (uuid::Uuid::new_v4().as_u128() % 150) as u64;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = rotate(&keys, &url).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("no row uses k1 any more"), "{stdout}");
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    assert!(served.load(Ordering::SeqCst) > 0);
    assert_eq!(failed.load(Ordering::SeqCst), 0, "the service answered throughout");

    // One envelope per row (the webhook's signing secret too), under the key its row
    // names, and that key is k2.
    let envelopes = app.db().envelopes().await;
    assert!(envelopes.len() > 2 * USERS);
    for (key_id, sealed) in &envelopes {
        assert_eq!(key_id, "k2");
        assert_eq!(Keyring::envelope_key_id(sealed), Some("k2"));
    }
    // Every credential opens: each user gets their own key back.
    for i in (0..USERS).step_by(7) {
        let r = app.post("/v1/resolve", &svc, json!({"provider": "openai", "user": format!("r{i}")})).await;
        assert_eq!(r.body["fields"]["api_key"], format!("sk-rotate-key-of-user-{i:05}"));
    }
    // k1 can go: a keyring of k2 alone starts, and the audit log still verifies.
    let db = app.stop().await;
    let only_new = Layer { master_keys: Some(format!("k2:{OTHER_KEY}")), ..Layer::default() };
    let app = spawn_on(db, only_new).await;
    let out = Command::new(env!("CARGO_BIN_EXE_byok"))
        .args(["audit", "verify"])
        .env_clear()
        .env("BYOK_MASTER_KEYS", format!("k2:{OTHER_KEY}"))
        .env("DATABASE_URL", &app.db().url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rotations = app.get("/v1/audit?action=key.rotate", &app.admin).await;
    assert!(!rotations.body["items"].as_array().unwrap().is_empty());
}
