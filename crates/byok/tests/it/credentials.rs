use serde_json::json;

use crate::both_engines;
use crate::support::{Engine, spawn_app};

both_engines!(create_get_list_delete, patch_changes_fields_and_versions, concurrent_duplicate_creates, list_pagination);

async fn create_get_list_delete(engine: Engine) {
    let app = spawn_app(engine).await;
    let alice = app.user_token("alice", &[]).await;
    let r = app
        .post(
            "/v1/credentials",
            &alice,
            json!({"provider": "openai", "label": "Personal", "fields": {"api_key": "sk-proj-abcdefghijklmnopa1b2", "organization": "org-123"},
                   "monthly_limit": 1000, "priority": 5}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.headers["location"], format!("/v1/credentials/{id}").as_str());
    assert_eq!(r.body["owner"], "user:alice");
    assert_eq!(r.body["provider"], "openai");
    assert_eq!(r.body["label"], "Personal");
    assert_eq!(r.body["config"], json!({"organization": "org-123"}));
    assert_eq!(r.body["secret_hints"], json!({"api_key": "sk-…a1b2"}));
    assert_eq!(r.body["status"], "unverified");
    assert_eq!(r.body["enabled"], true);
    assert_eq!(r.body["priority"], 5);
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["usage"]["total"], 0);
    assert_eq!(r.body["usage"]["monthly_limit"], 1000);
    assert!(r.body["usage"]["period_start"].as_str().unwrap().ends_with("-01T00:00:00Z"));

    let got = app.get(&format!("/v1/credentials/{id}"), &alice).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, r.body);

    let list = app.get("/v1/credentials", &alice).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["next"], json!(null));
    let filtered = app.get("/v1/credentials?provider=anthropic", &alice).await;
    assert_eq!(filtered.body["items"], json!([]));

    assert_eq!(app.delete(&format!("/v1/credentials/{id}"), &alice).await.status, 204);
    app.get(&format!("/v1/credentials/{id}"), &alice).await.assert_problem(404, "not_found");
    app.delete(&format!("/v1/credentials/{id}"), &alice).await.assert_problem(404, "not_found");
}

async fn patch_changes_fields_and_versions(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let id = app.create_openai(&svc, Some("user:alice"), "sk-first-key-aaaaaaaaaaaa1111").await;
    let path = format!("/v1/credentials/{id}");

    // Public fields and settings: same secret version.
    let r = app
        .patch(&path, &svc, json!({"label": "Work", "fields": {"organization": "org-9"}, "priority": -3, "monthly_limit": 50, "enabled": false}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["label"], "Work");
    assert_eq!(r.body["config"], json!({"organization": "org-9"}));
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["status"], "disabled");
    assert_eq!(r.body["usage"]["monthly_limit"], 50);

    // A new secret: new version, new hint, unverified again. Twice, so the second
    // patch must open the envelope sealed for version 2.
    let r =
        app.patch(&path, &svc, json!({"fields": {"api_key": "sk-second-key-bbbbbbbbbbb2222"}, "enabled": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["secret_hints"]["api_key"], "sk-…2222");
    assert_eq!(r.body["status"], "unverified");
    assert_eq!(r.body["config"], json!({"organization": "org-9"}), "untouched fields stay");
    let r = app.patch(&path, &svc, json!({"fields": {"api_key": "sk-third-key-ccccccccccccc3333", "organization": null}, "monthly_limit": null})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["version"], 3);
    assert_eq!(r.body["config"], json!({}));
    assert_eq!(r.body["usage"]["monthly_limit"], json!(null));

    // Same secret again: no new version.
    let r = app.patch(&path, &svc, json!({"fields": {"api_key": "sk-third-key-ccccccccccccc3333"}})).await;
    assert_eq!(r.body["version"], 3);

    // Removing a required field or breaking a pattern changes nothing.
    app.patch(&path, &svc, json!({"fields": {"api_key": null}})).await.assert_problem(422, "invalid_field");
    app.patch(&path, &svc, json!({"fields": {"api_key": "nope"}, "label": "Changed"}))
        .await
        .assert_problem(422, "invalid_field");
    app.patch(&path, &svc, json!({"priority": 100000})).await.assert_problem(422, "invalid_field");
    let after = app.get(&path, &svc).await;
    assert_eq!(after.body["version"], 3);
    assert_eq!(after.body["label"], "Work");
}

async fn concurrent_duplicate_creates(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let body = json!({"owner": "org:acme", "provider": "anthropic", "label": "Shared", "fields": {"api_key": "sk-ant-api03-aaaaaaaaaaaaaaaaaaaa"}});
    let attempts = (0..8).map(|_| app.post("/v1/credentials", &svc, body.clone()));
    let answers = futures::future::join_all(attempts).await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "exactly one create wins: {:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
    for r in answers.iter().filter(|r| r.status != 201) {
        r.assert_problem(409, "conflict");
    }
    let list = app.get("/v1/credentials?owner=org:acme", &svc).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "nothing half written");
}

async fn list_pagination(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = app
            .post("/v1/credentials", &svc, json!({"owner": "user:pat", "provider": "groq", "label": format!("k{i}"), "fields": {"api_key": "gsk_aaaaaaaaaaaaaaaaaaaa"}}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut path = "/v1/credentials?owner=user:pat&limit=2".to_owned();
    loop {
        let page = app.get(&path, &svc).await;
        assert_eq!(page.status, 200, "{}", page.text);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page.body["next"].as_str() {
            Some(next) => path = format!("/v1/credentials?owner=user:pat&limit=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let mut seen = Vec::new();
    let mut path = "/v1/usage?owner=user:pat&limit=2".to_owned();
    loop {
        let page = app.get(&path, &svc).await;
        assert_eq!(page.status, 200, "{}", page.text);
        seen.extend(
            page.body["items"].as_array().unwrap().iter().map(|c| c["credential_id"].as_str().unwrap().to_owned()),
        );
        match page.body["next"].as_str() {
            Some(next) => path = format!("/v1/usage?owner=user:pat&limit=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "usage pages cover every credential");
}
