//! `resolve` with `"form": "short_lived"`: the clouds' stored keys never leave byok;
//! the caller gets a Google access token, an Entra token or an STS session minted from
//! them, cached per credential and scope until shortly before it expires, metered and
//! audited like any resolve. An org can require it (`short_lived_only`).

use byok_core::Timestamp;
use byok_fakes::{Scenario, fields};
use serde_json::{Value, json};

use crate::both_engines;
use crate::proxy::{World, world};
use crate::support::{Engine, Resp, captured_logs};

both_engines!(
    gcp_resolves_to_an_access_token_and_never_the_key_file,
    sixty_four_concurrent_callers_get_one_minted_token,
    a_changed_credential_mints_anew_and_a_deleted_one_is_gone,
    aws_resolves_to_a_session_or_an_assumed_role,
    an_org_can_require_short_lived_credentials,
    requests_that_cannot_be_served_short_lived_are_refused_and_take_nothing,
    a_key_the_cloud_refuses_answers_502_without_the_secret,
);

async fn resolve(w: &World, body: Value) -> Resp {
    w.app.post("/v1/resolve", &w.svc, body).await
}

/// The stored secrets of `provider`'s good test credential.
fn stored_secrets(provider: &str) -> Vec<String> {
    let catalog = byok_providers::builtin_catalog().unwrap();
    let spec = catalog.get(provider).unwrap();
    let good = fields(provider, Scenario::Good).unwrap();
    spec.fields.iter().filter(|f| f.secret).filter_map(|f| good.get(&f.name).cloned()).collect()
}

/// Asserts that the answer holds none of the stored secrets (nor a piece of a key file).
fn holds_no_stored_secret(r: &Resp, provider: &str) {
    let all = r.everything();
    for secret in stored_secrets(provider) {
        assert!(!all.contains(&secret), "a stored secret in the answer: {all}");
    }
    assert!(!all.contains("PRIVATE KEY") && !all.contains("private_key"), "the key file in the answer: {all}");
}

/// The token requests the fake for `provider` received (its connection test's too).
fn minted(w: &World, provider: &str) -> usize {
    w.fakes.requests_to(provider).len()
}

/// Seconds from now until `expires_at`.
fn seconds_left(r: &Resp) -> i64 {
    let at = Timestamp::parse_rfc3339(r.body["expires_at"].as_str().expect("expires_at")).unwrap();
    (at.millis() - Timestamp::now().millis()) / 1000
}

async fn gcp_resolves_to_an_access_token_and_never_the_key_file(engine: Engine) {
    let w = world(engine).await;
    let id = w.credential("user:alice", "gcp", None).await;
    let ask = json!({"provider": "gcp", "user": "alice", "form": "short_lived"});
    let first = resolve(&w, ask.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let token = first.body["fields"]["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ya29."), "{}", first.text);
    assert_eq!(first.body["fields"]["token_type"], "Bearer");
    assert_eq!(first.body["fields"].as_object().unwrap().len(), 2, "only the token: {}", first.text);
    assert_eq!(
        (first.body["credential_id"].as_str(), first.body["source"].as_str()),
        (Some(id.as_str()), Some("user"))
    );
    assert!((3500..=3599).contains(&seconds_left(&first)), "{}", first.text);
    holds_no_stored_secret(&first, "gcp");

    let again = resolve(&w, ask.clone()).await;
    assert_eq!(again.body["fields"]["access_token"], token.as_str(), "cached");
    assert_eq!(again.body["expires_at"], first.body["expires_at"]);
    assert_eq!(minted(&w, "gcp"), 1, "one token request for both");

    let scope = "https://www.googleapis.com/auth/devstorage.read_only";
    let scoped = resolve(&w, json!({"provider": "gcp", "user": "alice", "form": "short_lived", "scope": scope})).await;
    assert_eq!(scoped.status, 200, "{}", scoped.text);
    assert_ne!(scoped.body["fields"]["access_token"], token.as_str(), "another scope, another token");
    assert_eq!(minted(&w, "gcp"), 2);

    // Metered and audited like any resolve.
    w.app.eventually(&format!("/v1/credentials/{id}"), |c| c["usage"]["total"] == 3).await;
    let audit = w.app.get(&format!("/v1/audit?credential={id}&action=credential.resolve"), &w.app.admin).await;
    let details: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().filter_map(|e| e["detail"].as_str()).collect();
    assert_eq!(details, ["source user; short-lived"; 3], "{}", audit.text);
    let logs = captured_logs();
    assert!(!logs.contains(&token), "a minted token in the logs");

    // The key form still answers the stored fields where the org does not forbid it.
    let key = resolve(&w, json!({"provider": "gcp", "user": "alice"})).await;
    assert_eq!(key.status, 200);
    assert!(key.body["fields"]["service_account_json"].as_str().is_some() && key.body.get("expires_at").is_none());
}

async fn sixty_four_concurrent_callers_get_one_minted_token(engine: Engine) {
    let w = world(engine).await;
    w.credential("org:acme", "azure", None).await;
    let ask = json!({"provider": "azure", "org": "acme", "form": "short_lived"});
    let answers = futures::future::join_all((0..64).map(|_| resolve(&w, ask.clone()))).await;
    let tokens: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.text);
            holds_no_stored_secret(r, "azure");
            r.body["fields"]["access_token"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(minted(&w, "azure"), 1, "minted once for 64 callers");
    let scope = w.fakes.requests_to("azure")[0].form().into_iter().find(|(k, _)| k == "scope").unwrap().1;
    assert_eq!(scope, "https://cognitiveservices.azure.com/.default");
}

async fn a_changed_credential_mints_anew_and_a_deleted_one_is_gone(engine: Engine) {
    let w = world(engine).await;
    let id = w.credential("user:alice", "azure", None).await;
    let ask = json!({"provider": "azure", "user": "alice", "form": "short_lived"});
    let token = |r: &Resp| r.body["fields"]["access_token"].as_str().unwrap().to_owned();
    let before = token(&resolve(&w, ask.clone()).await);
    let r = w.app.patch(&format!("/v1/credentials/{id}"), &w.svc, json!({"label": "renamed"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = resolve(&w, ask.clone()).await;
    assert_ne!(token(&after), before, "a token minted before the change is not handed out after it");
    assert_eq!(minted(&w, "azure"), 2);
    assert_eq!(w.app.delete(&format!("/v1/credentials/{id}"), &w.svc).await.status, 204);
    resolve(&w, ask).await.assert_problem(404, "no_credential");
    assert_eq!(minted(&w, "azure"), 2);
}

async fn aws_resolves_to_a_session_or_an_assumed_role(engine: Engine) {
    let w = world(engine).await;
    let id = w.credential("user:alice", "aws", None).await;
    let stored_key_id = fields("aws", Scenario::Good).unwrap()["access_key_id"].clone();
    let ask = json!({"provider": "aws", "user": "alice", "form": "short_lived"});
    let session = resolve(&w, ask.clone()).await;
    assert_eq!(session.status, 200, "{}", session.text);
    let f = &session.body["fields"];
    let names: Vec<&String> = f.as_object().unwrap().keys().collect();
    assert_eq!(names, ["access_key_id", "secret_access_key", "session_token"]);
    assert!(f["access_key_id"].as_str().unwrap().starts_with("ASIA"));
    assert_ne!(f["access_key_id"], stored_key_id.as_str());
    assert!((3500..=3600).contains(&seconds_left(&session)), "{}", session.text);
    holds_no_stored_secret(&session, "aws");
    assert!(w.last_sent("aws").body_text().starts_with("Action=GetSessionToken&"));

    let role = "arn:aws:iam::123456789012:role/video-jobs";
    let r = w.app.patch(&format!("/v1/credentials/{id}"), &w.svc, json!({"fields": {"role_arn": role}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let assumed = resolve(&w, ask).await;
    assert_eq!(assumed.status, 200, "{}", assumed.text);
    assert_ne!(assumed.body["fields"]["access_key_id"], f["access_key_id"]);
    let sent = w.last_sent("aws").body_text();
    assert!(
        sent.starts_with("Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fvideo-jobs&"),
        "{sent}"
    );
    holds_no_stored_secret(&assumed, "aws");
}

async fn an_org_can_require_short_lived_credentials(engine: Engine) {
    let w = world(engine).await;
    w.credential("org:acme", "gcp", None).await;
    w.credential("org:acme", "openai", None).await;
    let policy = json!({"allow_platform_fallback": true, "short_lived_only": true});
    let r = w.app.send(w.app.client.put(w.app.url("/v1/orgs/acme/policy")).bearer_auth(&w.svc).json(&policy)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(w.app.get("/v1/orgs/acme/policy", &w.svc).await.body, policy);

    let key = resolve(&w, json!({"provider": "gcp", "user": "bob", "org": "acme"})).await;
    key.assert_problem(403, "short_lived_only");
    holds_no_stored_secret(&key, "gcp");
    let short = resolve(&w, json!({"provider": "gcp", "user": "bob", "org": "acme", "form": "short_lived"})).await;
    assert_eq!((short.status, short.body["source"].as_str()), (200, Some("org")), "{}", short.text);
    let openai = resolve(&w, json!({"provider": "openai", "org": "acme"})).await;
    assert_eq!(openai.status, 200, "only cloud credentials are held back: {}", openai.text);
    // The user's own key file is theirs to take.
    w.credential("user:bob", "gcp", None).await;
    let own = resolve(&w, json!({"provider": "gcp", "user": "bob", "org": "acme"})).await;
    assert_eq!((own.status, own.body["source"].as_str()), (200, Some("user")), "{}", own.text);
    // Without the flag, the org's key form is back.
    let r = w
        .app
        .send(
            w.app
                .client
                .put(w.app.url("/v1/orgs/acme/policy"))
                .bearer_auth(&w.svc)
                .json(&json!({"allow_platform_fallback": true})),
        )
        .await;
    assert_eq!(r.body["short_lived_only"], false, "{}", r.text);
    assert_eq!(resolve(&w, json!({"provider": "gcp", "org": "acme"})).await.status, 200);
}

async fn requests_that_cannot_be_served_short_lived_are_refused_and_take_nothing(engine: Engine) {
    let w = world(engine).await;
    let openai = w.credential("user:alice", "openai", None).await;
    let aws = w.credential("user:alice", "aws", None).await;
    let gcp = w.credential("user:alice", "gcp", None).await;
    for (body, status, code) in [
        (json!({"provider": "openai", "user": "alice", "form": "short_lived"}), 422, "invalid_field"),
        (json!({"provider": "aws", "user": "alice", "form": "short_lived", "scope": "x"}), 422, "invalid_field"),
        (
            json!({"provider": "gcp", "user": "alice", "scope": "https://www.googleapis.com/auth/cloud-platform"}),
            422,
            "invalid_field",
        ),
        (json!({"provider": "gcp", "user": "alice", "form": "short_lived", "scope": "a\nb"}), 422, "invalid_field"),
        (json!({"provider": "gcp", "user": "alice", "form": "short_lived", "scope": " "}), 422, "invalid_field"),
        (
            json!({"provider": "gcp", "user": "alice", "form": "short_lived", "scope": "s".repeat(1025)}),
            422,
            "invalid_field",
        ),
        (json!({"provider": "gcp", "user": "alice", "form": "token"}), 422, "invalid_field"),
    ] {
        resolve(&w, body).await.assert_problem(status, code);
    }
    for id in [openai, aws, gcp] {
        let view = w.app.get(&format!("/v1/credentials/{id}"), &w.svc).await;
        assert_eq!(view.body["usage"]["total"], 0, "nothing taken: {}", view.text);
    }
    assert_eq!(minted(&w, "gcp") + minted(&w, "aws"), 0, "nothing minted");
}

async fn a_key_the_cloud_refuses_answers_502_without_the_secret(engine: Engine) {
    let w = world(engine).await;
    let bad = fields("azure", Scenario::Invalid).unwrap();
    let r =
        w.app.post("/v1/credentials", &w.svc, json!({"owner": "user:alice", "provider": "azure", "fields": bad})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let refused = resolve(&w, json!({"provider": "azure", "user": "alice", "form": "short_lived"})).await;
    refused.assert_problem(502, "mint_failed");
    assert!(refused.text.contains("AADSTS7000215"), "the cloud's reason: {}", refused.text);
    assert!(!refused.everything().contains(&bad["client_secret"]), "{}", refused.text);
    let again = resolve(&w, json!({"provider": "azure", "user": "alice", "form": "short_lived"})).await;
    again.assert_problem(502, "mint_failed");
    assert_eq!(minted(&w, "azure"), 2, "a failure is not cached");
}
