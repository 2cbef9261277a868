//! `POST /v1/resolve`: the user → org → platform chain, its skips and policies.

use serde_json::{Value, json};

use crate::both_engines;
use crate::support::{AppOptions, Engine, TestApp, TestDb, spawn_app, spawn_with};

both_engines!(
    tiers_in_order_with_sources,
    priority_and_skips_within_an_owner,
    exhausted_tier_answers_429_unless_allowed,
    no_credential_names_the_tiers,
    org_policy_and_request_can_forbid_fallback,
    only_services_resolve,
    environment_platform_keys_are_the_last_resort,
    unreadable_credential_is_marked_not_skipped,
    no_cross_user_leakage_when_interleaved,
);

async fn create(app: &TestApp, svc: &str, owner: &str, provider: &str, label: &str, key: &str, extra: Value) -> String {
    let mut body = json!({"owner": owner, "provider": provider, "label": label, "fields": {"api_key": key}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let token = if owner == "platform" { app.admin.clone() } else { svc.to_owned() };
    let r = app.post("/v1/credentials", &token, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn resolve(app: &TestApp, svc: &str, body: Value) -> crate::support::Resp {
    app.post("/v1/resolve", svc, body).await
}

async fn tiers_in_order_with_sources(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let platform = create(&app, &svc, "platform", "openai", "p", "sk-platform-aaaaaaaaaaaaaaaa", json!({})).await;
    let org = create(&app, &svc, "org:acme", "openai", "o", "sk-org-acme-aaaaaaaaaaaaaaaa", json!({})).await;
    let user = create(&app, &svc, "user:alice", "openai", "u", "sk-user-alice-aaaaaaaaaaaaa", json!({})).await;

    let r = resolve(&app, &svc, json!({"provider": "openai", "user": "alice", "org": "acme"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["credential_id"], user.as_str());
    assert_eq!(r.body["source"], "user");
    assert_eq!(r.body["owner"], "user:alice");
    assert_eq!(r.body["fields"], json!({"api_key": "sk-user-alice-aaaaaaaaaaaaa"}));

    let r = resolve(&app, &svc, json!({"provider": "openai", "user": "bob", "org": "acme"})).await;
    assert_eq!((r.body["credential_id"].as_str(), r.body["source"].as_str()), (Some(org.as_str()), Some("org")));
    let r = resolve(&app, &svc, json!({"provider": "openai", "user": "bob", "org": "globex"})).await;
    assert_eq!(
        (r.body["credential_id"].as_str(), r.body["source"].as_str()),
        (Some(platform.as_str()), Some("platform"))
    );
    let r = resolve(&app, &svc, json!({"provider": "openai"})).await;
    assert_eq!(r.body["source"], "platform");

    // Each resolve is counted on the credential it answered with (without a limit, just
    // after the answer).
    let usage = app.eventually(&format!("/v1/credentials/{user}"), |c| c["usage"]["total"] == 1).await;
    assert_eq!(usage["usage"]["period"], 1);
    assert!(usage["last_used_at"].is_string());
    app.eventually(&format!("/v1/credentials/{platform}"), |c| c["usage"]["total"] == 2).await;
}

async fn priority_and_skips_within_an_owner(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let first =
        create(&app, &svc, "user:alice", "openai", "first", "sk-first-aaaaaaaaaaaaaaaaaa", json!({"priority": 1}))
            .await;
    let second =
        create(&app, &svc, "user:alice", "openai", "second", "sk-second-aaaaaaaaaaaaaaaaa", json!({"priority": 2}))
            .await;
    let third = create(
        &app,
        &svc,
        "user:alice",
        "openai",
        "third",
        "sk-third-aaaaaaaaaaaaaaaaaa",
        json!({"priority": 3, "monthly_limit": 1}),
    )
    .await;
    let fourth =
        create(&app, &svc, "user:alice", "openai", "fourth", "sk-fourth-aaaaaaaaaaaaaaaaa", json!({"priority": 4}))
            .await;
    let ask = json!({"provider": "openai", "user": "alice"});
    assert_eq!(
        resolve(&app, &svc, ask.clone()).await.body["credential_id"],
        first.as_str(),
        "lowest priority value first"
    );

    // Disabled: skipped.
    app.patch(&format!("/v1/credentials/{first}"), &svc, json!({"enabled": false})).await;
    assert_eq!(resolve(&app, &svc, ask.clone()).await.body["credential_id"], second.as_str());
    // Failing: skipped.
    let report = json!({"outcome": "invalid", "message": "Incorrect API key provided"});
    assert_eq!(app.post(&format!("/v1/credentials/{second}/report"), &svc, report).await.status, 200);
    assert_eq!(resolve(&app, &svc, ask.clone()).await.body["credential_id"], third.as_str());
    // Exhausted (limit 1, now used): skipped.
    assert_eq!(resolve(&app, &svc, ask.clone()).await.body["credential_id"], fourth.as_str());
    assert_eq!(app.get(&format!("/v1/credentials/{third}"), &svc).await.body["usage"]["period"], 1);
}

async fn exhausted_tier_answers_429_unless_allowed(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    create(&app, &svc, "user:alice", "anthropic", "mine", "sk-ant-alice-aaaaaaaaaaaaaaa", json!({"monthly_limit": 1}))
        .await;
    let platform = create(&app, &svc, "platform", "anthropic", "p", "sk-ant-platform-aaaaaaaaaaaa", json!({})).await;
    let ask = json!({"provider": "anthropic", "user": "alice"});
    assert_eq!(resolve(&app, &svc, ask.clone()).await.body["source"], "user");
    // The user's key is at its limit: the platform does not silently pay.
    let r = resolve(&app, &svc, ask.clone()).await;
    r.assert_problem(429, "quota_exhausted");
    assert!(r.body["detail"].as_str().unwrap().contains("user:alice"));
    let r = resolve(&app, &svc, json!({"provider": "anthropic", "user": "alice", "fallback_on_exhausted": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["credential_id"], platform.as_str());
    // A zero limit is exhausted from the start.
    create(&app, &svc, "user:zed", "anthropic", "zero", "sk-ant-zed-aaaaaaaaaaaaaaaaa", json!({"monthly_limit": 0}))
        .await;
    resolve(&app, &svc, json!({"provider": "anthropic", "user": "zed"})).await.assert_problem(429, "quota_exhausted");
}

async fn no_credential_names_the_tiers(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let r = resolve(&app, &svc, json!({"provider": "groq", "user": "alice", "org": "acme"})).await;
    r.assert_problem(404, "no_credential");
    assert_eq!(r.body["tiers"], json!(["user:alice", "org:acme", "platform"]));
    resolve(&app, &svc, json!({"provider": "nope", "user": "alice"})).await.assert_problem(422, "unknown_provider");
    resolve(&app, &svc, json!({"provider": "groq", "user": "not valid"})).await.assert_problem(422, "invalid_field");
    resolve(&app, &svc, json!({"provider": "groq", "colour": "red"})).await.assert_problem(422, "invalid_field");
    // Only disabled credentials: the tier falls through.
    let id = create(&app, &svc, "user:alice", "groq", "off", "gsk_aaaaaaaaaaaaaaaaaaaaaa", json!({})).await;
    app.patch(&format!("/v1/credentials/{id}"), &svc, json!({"enabled": false})).await;
    resolve(&app, &svc, json!({"provider": "groq", "user": "alice"})).await.assert_problem(404, "no_credential");
    assert_eq!(app.get(&format!("/v1/credentials/{id}"), &svc).await.body["usage"]["total"], 0, "nothing was counted");
}

async fn org_policy_and_request_can_forbid_fallback(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    create(&app, &svc, "platform", "openai", "p", "sk-platform-aaaaaaaaaaaaaaaa", json!({})).await;
    let ask = json!({"provider": "openai", "user": "alice", "org": "acme"});
    assert_eq!(resolve(&app, &svc, ask.clone()).await.body["source"], "platform");

    let alice_admin = app.user_token("alice", &["acme"]).await;
    let bob = app.user_token("bob", &[]).await;
    app.send(
        app.client
            .put(app.url("/v1/orgs/acme/policy"))
            .bearer_auth(&bob)
            .json(&json!({"allow_platform_fallback": false})),
    )
    .await
    .assert_problem(403, "forbidden");
    let r = app
        .send(
            app.client
                .put(app.url("/v1/orgs/acme/policy"))
                .bearer_auth(&alice_admin)
                .json(&json!({"allow_platform_fallback": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.get("/v1/orgs/acme/policy", &svc).await.body,
        json!({"allow_platform_fallback": false, "short_lived_only": false})
    );
    let r = resolve(&app, &svc, ask.clone()).await;
    r.assert_problem(404, "no_credential");
    assert_eq!(r.body["tiers"], json!(["user:alice", "org:acme"]));
    // Other orgs are not affected; a request can also ask for no fallback.
    assert_eq!(
        resolve(&app, &svc, json!({"provider": "openai", "user": "alice", "org": "globex"})).await.body["source"],
        "platform"
    );
    let r = resolve(&app, &svc, json!({"provider": "openai", "user": "alice", "fallback": false})).await;
    r.assert_problem(404, "no_credential");
    assert_eq!(r.body["tiers"], json!(["user:alice"]));
}

async fn only_services_resolve(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    create(&app, &svc, "user:alice", "openai", "u", "sk-user-alice-aaaaaaaaaaaaa", json!({})).await;
    let alice = app.user_token("alice", &[]).await;
    for token in [&alice, &app.admin] {
        let r = resolve(&app, token, json!({"provider": "openai", "user": "alice"})).await;
        r.assert_problem(403, "forbidden");
        assert!(!r.text.contains("sk-user-alice"));
    }
    app.send(app.client.post(app.url("/v1/resolve")).json(&json!({"provider": "openai"})))
        .await
        .assert_problem(401, "unauthorized");
}

async fn environment_platform_keys_are_the_last_resort(engine: Engine) {
    let env = vec![
        ("OPENAI_API_KEY".to_owned(), "sk-from-env-aaaaaaaaaaaaaaaa".to_owned()),
        ("OPENAI_ORG_ID".to_owned(), "org-envorg".to_owned()),
        // Half a Twilio credential: ignored, named in the log.
        ("TWILIO_ACCOUNT_SID".to_owned(), format!("AC{}", "a".repeat(32))),
    ];
    let app = spawn_with(TestDb::fresh(engine).await, AppOptions { env, ..AppOptions::default() }).await;
    let svc = app.service_token().await;
    let r = resolve(&app, &svc, json!({"provider": "openai", "user": "alice"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["source"], "platform");
    assert_eq!(r.body["credential_id"], "env:openai");
    assert_eq!(r.body["fields"], json!({"api_key": "sk-from-env-aaaaaaaaaaaaaaaa", "organization": "org-envorg"}));
    resolve(&app, &svc, json!({"provider": "twilio", "user": "alice"})).await.assert_problem(404, "no_credential");
    // A stored platform credential comes before the environment's.
    let stored = create(&app, &svc, "platform", "openai", "p", "sk-stored-platform-aaaaaaa", json!({})).await;
    assert_eq!(
        resolve(&app, &svc, json!({"provider": "openai", "user": "alice"})).await.body["credential_id"],
        stored.as_str()
    );
    // The user's own key comes before both.
    create(&app, &svc, "user:alice", "openai", "u", "sk-user-alice-aaaaaaaaaaaaa", json!({})).await;
    assert_eq!(resolve(&app, &svc, json!({"provider": "openai", "user": "alice"})).await.body["source"], "user");
}

async fn unreadable_credential_is_marked_not_skipped(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let bob = create(&app, &svc, "user:bob", "openai", "b", "sk-bob-secret-bbbbbbbbbbbbb", json!({})).await;
    let alice = create(&app, &svc, "user:alice", "openai", "a", "sk-alice-secret-aaaaaaaaaaa", json!({})).await;
    create(&app, &svc, "platform", "openai", "p", "sk-platform-aaaaaaaaaaaaaaaa", json!({})).await;
    app.db()
        .execute(
            "UPDATE credentials SET sealed = (SELECT sealed FROM credentials WHERE id = $1) WHERE id = $2",
            &[&bob, &alice],
        )
        .await;
    let r = resolve(&app, &svc, json!({"provider": "openai", "user": "alice"})).await;
    r.assert_problem(500, "credential_unreadable");
    assert!(!r.text.contains("sk-"), "{}", r.text);
    let view = app.get(&format!("/v1/credentials/{alice}"), &svc).await;
    assert_eq!(view.body["status"], "error");
    assert!(view.body["status_message"].as_str().unwrap().contains("could not be opened"));
    // Now visibly failing, it is skipped like any failing credential.
    assert_eq!(resolve(&app, &svc, json!({"provider": "openai", "user": "alice"})).await.body["source"], "platform");
}

async fn no_cross_user_leakage_when_interleaved(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let users: Vec<String> = (0..40).map(|i| format!("u{i}")).collect();
    for user in &users {
        create(
            &app,
            &svc,
            &format!("user:{user}"),
            "openai",
            "k",
            &format!("sk-key-of-{user}-aaaaaaaaaaaa"),
            json!({}),
        )
        .await;
    }
    let asks = (0..400).map(|i| {
        let user = users[(i * 7) % users.len()].clone();
        let (app, svc) = (&app, &svc);
        async move {
            let r = resolve(app, svc, json!({"provider": "openai", "user": user})).await;
            (user, r)
        }
    });
    for (user, r) in futures::future::join_all(asks).await {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["owner"], format!("user:{user}"));
        assert_eq!(r.body["fields"]["api_key"], format!("sk-key-of-{user}-aaaaaaaaaaaa"));
    }
}
