//! The proxy serves credentials without a limit from a per-instance cache. Every change
//! that can alter the pick must reach it: at once on the instance that made it, within
//! the poll interval on others sharing the database; counting must not invalidate it.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Processes, real_key, world};
use crate::both_engines;
use crate::support::Engine;

both_engines!(changes_reach_the_cached_pick_at_once, changes_reach_other_instances, the_epoch_moves_with_changes_only);

async fn changes_reach_the_cached_pick_at_once(engine: Engine) {
    let w = world(engine).await;
    let id = w.credential("user:alice", "openai", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["openai"], None).await;
    let models = || w.app.send(w.app.client.get(w.proxy_url("openai", "/v1/models")).bearer_auth(&vk));
    for _ in 0..3 {
        assert_eq!(models().await.status, 200, "served (and cached)");
    }

    // A new secret goes out on the very next request.
    let rotated = "sk-proj-rotatedkey0123456789abcdef";
    let r = w.app.patch(&format!("/v1/credentials/{id}"), &w.svc, json!({"fields": {"api_key": rotated}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    models().await;
    let sent = w.last_sent("openai");
    assert_eq!(
        sent.headers.iter().find(|(n, _)| n == "authorization").map(|(_, v)| v.as_str()),
        Some(&*format!("Bearer {rotated}"))
    );
    // The fake refused that key: byok marks it failing (beside the answer); then a good one.
    w.eventually(&format!("/v1/credentials/{id}"), |c| c["status"] == "error").await;
    let r =
        w.app.patch(&format!("/v1/credentials/{id}"), &w.svc, json!({"fields": {"api_key": real_key("openai")}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(models().await.status, 200);

    // Disabled: refused at once; enabled again: served at once.
    let r = w.app.patch(&format!("/v1/credentials/{id}"), &w.svc, json!({"enabled": false})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let before = w.fakes.requests_to("openai").len();
    assert_eq!(models().await.status, 404, "a disabled credential is not used");
    assert_eq!(w.fakes.requests_to("openai").len(), before, "nothing reached the provider");
    let r = w.app.patch(&format!("/v1/credentials/{id}"), &w.svc, json!({"enabled": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(models().await.status, 200);

    // A better credential added: it is picked at once.
    let better = w
        .app
        .post(
            "/v1/credentials",
            &w.svc,
            json!({"owner": "user:alice", "provider": "openai", "label": "better", "priority": -1,
                   "fields": {"api_key": "sk-proj-betterkey0123456789abcdef"}}),
        )
        .await;
    assert_eq!(better.status, 201, "{}", better.text);
    models().await;
    assert!(w.last_sent("openai").headers.iter().any(|(n, v)| n == "authorization" && v.contains("betterkey")));

    // Deleted: the remaining one again, then nothing.
    assert_eq!(
        w.app.delete(&format!("/v1/credentials/{}", better.body["id"].as_str().unwrap()), &w.svc).await.status,
        204
    );
    assert_eq!(models().await.status, 200);
    assert_eq!(w.app.delete(&format!("/v1/credentials/{id}"), &w.svc).await.status, 204);
    assert_eq!(models().await.status, 404, "a deleted credential is not used");
}

async fn changes_reach_other_instances(engine: Engine) {
    let world = Processes::new(engine).await;
    let (a, b) = (world.start(), world.start());
    let client = reqwest::Client::new();
    let super::Owned { svc, credential: id, vk } = world.owner(&a, "user:carol").await;
    let models = |base: &str| client.get(format!("{base}/v1/proxy/openai/v1/models")).bearer_auth(&vk).send();
    for _ in 0..3 {
        assert_eq!(models(&b.base).await.unwrap().status(), 200, "b serves (and caches) carol's credential");
    }
    let disabled = client
        .patch(format!("{}/v1/credentials/{id}", a.base))
        .bearer_auth(&svc)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    assert_eq!(models(&a.base).await.unwrap().status(), 404, "the instance that disabled it stops at once");
    let started = Instant::now();
    while models(&b.base).await.unwrap().status() != 404 {
        assert!(started.elapsed() < Duration::from_secs(2), "b still uses a disabled credential after 2 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn the_epoch_moves_with_changes_only(engine: Engine) {
    let w = world(engine).await;
    let epoch = || w.app.db().count("SELECT epoch FROM credential_epoch");
    let e0 = epoch().await;
    let id = w.credential("user:dave", "openai", None).await;
    let e1 = epoch().await;
    assert!(e1 > e0, "a new credential moves the epoch");

    // Use, however counted, is not a change.
    let (_, vk) = w.virtual_key("user:dave", &["openai"], None).await;
    for _ in 0..3 {
        let r = w.app.post("/v1/resolve", &w.svc, json!({"provider": "openai", "user": "dave"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = w.app.send(w.app.client.get(w.proxy_url("openai", "/v1/models")).bearer_auth(&vk)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    w.eventually("/v1/usage?owner=user:dave", |b| b["items"][0]["total"] == 6).await;
    assert_eq!(epoch().await, e1, "counting does not move the epoch");

    let mut last = e1;
    let changes = [
        ("PATCH", format!("/v1/credentials/{id}"), json!({"label": "renamed"})),
        ("PATCH", format!("/v1/credentials/{id}"), json!({"priority": 3})),
        ("PATCH", format!("/v1/credentials/{id}"), json!({"monthly_limit": 50})),
        ("POST", format!("/v1/credentials/{id}/test"), json!({})),
        ("PUT", "/v1/orgs/acme/policy".to_owned(), json!({"allow_platform_fallback": false})),
        ("DELETE", format!("/v1/credentials/{id}"), json!({})),
    ];
    for (method, path, body) in changes {
        let req = w.app.client.request(method.parse().unwrap(), w.app.url(&path)).bearer_auth(&w.svc);
        let req = if method == "DELETE" { req } else { req.json(&body) };
        let r = w.app.send(req).await;
        assert!(r.status < 300, "{method} {path}: {}", r.text);
        let now = epoch().await;
        assert!(now > last, "{method} {path} did not move the epoch");
        last = now;
    }
}
