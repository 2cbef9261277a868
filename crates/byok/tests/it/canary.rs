//! Invariant 2: a secret stored through the API never comes back out: not in
//! answers, error texts, metrics, logs, or the database's bytes.

use serde_json::json;

use crate::both_engines;
use crate::support::{Engine, Resp, canary, captured_logs, spawn_app};

both_engines!(canary_never_leaves_the_envelope);

async fn canary_never_leaves_the_envelope(engine: Engine) {
    let app = spawn_app(engine).await;
    let first = canary("sk-proj-");
    let second = canary("sk-proj-");
    let canaries = [first.as_str(), second.as_str()];
    let alice = app.user_token("alice", &[]).await;
    let svc = app.service_token().await;
    let mut answers: Vec<Resp> = Vec::new();

    let created = app
        .post(
            "/v1/credentials",
            &alice,
            json!({"provider": "openai", "label": "CanaryLabel", "fields": {"api_key": first}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/credentials/{id}");
    answers.push(created);
    answers.push(app.get(&path, &alice).await);
    answers.push(app.get(&path, &svc).await);
    answers.push(app.get("/v1/credentials", &alice).await);
    answers.push(app.get("/v1/credentials?owner=user:alice", &svc).await);
    answers.push(app.patch(&path, &alice, json!({"fields": {"api_key": second}})).await);
    answers.push(app.get(&path, &alice).await);

    // The canary typed into every wrong place an error message could echo.
    for body in [
        json!({"provider": "openai", "priority": first, "fields": {"api_key": first}}),
        json!({"provider": "openai", "fields": {"api_key": first, "organization": first}}),
        with_key(json!({"provider": "openai", "fields": {"api_key": first}}), &["fields", &first]),
        with_key(json!({"provider": "openai", "fields": {"api_key": first}}), &[&first]),
        json!({"provider": first, "fields": {"api_key": first}}),
        json!({"owner": format!("user:{first}!"), "provider": "openai", "fields": {"api_key": first}}),
        json!({"provider": "openai", "label": "CanaryLabel", "fields": {"api_key": first}}),
        json!({"provider": "openai", "fields": {"api_key": [first]}}),
    ] {
        let r = app.post("/v1/credentials", &alice, body).await;
        assert!((400..500).contains(&r.status), "{}", r.text);
        answers.push(r);
    }
    answers.push(app.patch(&path, &alice, json!({"fields": {"organization": first}})).await);
    answers.push(app.patch(&path, &alice, json!({"label": first, "priority": first})).await);
    answers.push(
        app.send(
            app.client
                .post(app.url("/v1/credentials"))
                .bearer_auth(&alice)
                .header("content-type", "application/json")
                .body(format!("{{\"fields\": \"{first}")),
        )
        .await,
    );
    answers.push(app.send(app.client.get(app.url("/v1/credentials")).bearer_auth(&first)).await);
    answers.push(app.send(app.client.get(app.url("/metrics"))).await);

    for answer in &answers {
        let all = answer.everything();
        for c in canaries {
            assert!(!all.contains(c), "canary in an answer: {all}");
        }
    }
    assert_eq!(answers[6].body["secret_hints"]["api_key"], format!("sk-…{}", &second[second.len() - 4..]));

    let logs = captured_logs();
    assert!(logs.contains(&id), "the log capture sees this test's requests");
    for c in canaries {
        assert!(!logs.contains(c), "canary in the logs");
    }

    let bytes = app.db().all_bytes().await;
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("CanaryLabel"), "the byte search sees the credential row");
    for c in canaries {
        assert!(!text.contains(c), "canary stored in plaintext");
        let hex: String = c.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!text.contains(&hex), "canary stored as hex");
    }
}

/// `body` with an extra key (the canary) at `path`: an unknown field whose name is a secret.
fn with_key(mut body: serde_json::Value, path: &[&str]) -> serde_json::Value {
    let (name, parents) = path.split_last().unwrap();
    let mut target = &mut body;
    for p in parents {
        target = &mut target[*p];
    }
    target.as_object_mut().unwrap().insert((*name).to_owned(), json!("x"));
    body
}
