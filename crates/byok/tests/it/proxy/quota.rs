//! Limits hold exactly under concurrency: a virtual key's own, and its owner's
//! credential's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::world;
use crate::both_engines;
use crate::support::Engine;

const CLIENTS: usize = 16;
const LIMIT: usize = 25;

both_engines!(a_virtual_keys_limit_is_exact_under_concurrency, a_credentials_limit_is_exact_through_the_proxy);

/// `CLIENTS` clients, each with its own connections, call until refused; returns how
/// many calls succeeded.
async fn race(url: String, key: String) -> usize {
    let granted = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (url, key, granted) = (url.clone(), key.clone(), granted.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let r = client.get(&url).bearer_auth(&key).send().await.unwrap();
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

async fn a_virtual_keys_limit_is_exact_under_concurrency(engine: Engine) {
    let w = world(engine).await;
    let credential = w.credential("user:alice", "openai", None).await;
    let (key_id, vk) = w.virtual_key("user:alice", &[], Some(LIMIT as i64)).await;
    assert_eq!(race(w.proxy_url("openai", "/v1/models"), vk).await, LIMIT);
    let key = w.app.get(&format!("/v1/tokens/{key_id}"), &w.svc).await.body;
    assert_eq!(
        (key["usage"]["total"].as_u64(), key["usage"]["period"].as_u64()),
        (Some(LIMIT as u64), Some(LIMIT as u64))
    );
    // Refused requests take no unit of the credential (counted just after the answers).
    w.eventually(&format!("/v1/credentials/{credential}"), |v| v["usage"]["total"] == LIMIT).await;
    assert_eq!(w.fakes.requests_to("openai").len(), LIMIT, "exactly the granted requests reached the provider");
}

async fn a_credentials_limit_is_exact_through_the_proxy(engine: Engine) {
    let w = world(engine).await;
    let credential = w.credential("user:alice", "openai", Some(LIMIT as i64)).await;
    let (key_id, vk) = w.virtual_key("user:alice", &[], None).await;
    assert_eq!(race(w.proxy_url("openai", "/v1/models"), vk).await, LIMIT);
    let view = w.app.get(&format!("/v1/credentials/{credential}"), &w.svc).await.body;
    assert_eq!(view["usage"]["total"], LIMIT);
    assert_eq!(w.fakes.requests_to("openai").len(), LIMIT);
    let key = w.eventually(&format!("/v1/tokens/{key_id}"), |v| v["usage"]["total"] == LIMIT).await;
    assert_eq!(key["usage"]["monthly_limit"], serde_json::Value::Null);
}
