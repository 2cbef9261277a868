//! SMS through Twilio and email through Resend with their official Python SDKs,
//! pointed at byok's proxy with a virtual key: the owner's real credentials arrive in
//! the providers' own auth places (and Twilio's account SID in the path), the
//! credential's sender is the default one, the virtual key never reaches a provider,
//! and byok's refusals raise the SDKs' usual exception classes.

use base64::Engine as _;
use byok_fakes::{RecordedRequest, Scenario, fields};
use serde_json::json;

use super::sdk::run;
use super::{World, assert_absent, served_world, world};
use crate::both_engines;
use crate::support::{Engine, Resp, canary};

both_engines!(
    the_twilio_sdk_sends_sms_through_the_proxy,
    the_resend_sdk_sends_email_through_the_proxy,
    another_account_or_a_stray_key_never_reaches_twilio,
    messaging_secrets_never_leak
);

const BAD_KEY: &str = "byok_vk_0000000000000000000000000000000000000000000000000000000000000000";

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// Asserts that no byok token of any kind is anywhere in `sent`, the path included.
fn no_byok_token(sent: &RecordedRequest) {
    assert_absent(sent, "byok_");
    assert!(!sent.path.contains("byok_"), "a byok token in the path {}", sent.path);
}

/// The messages or emails the fake for `provider` received: paths containing `marker`
/// (a connection test of the credential reads other paths).
fn sent_to(w: &World, provider: &str, marker: &str) -> Vec<RecordedRequest> {
    w.fakes.requests_to(provider).into_iter().filter(|s| s.path.contains(marker)).collect()
}

/// A revoked virtual key of `owner` for `provider`.
async fn revoked_key(w: &World, owner: &str, provider: &str) -> String {
    let (id, key) = w.virtual_key(owner, &[provider], None).await;
    assert_eq!(w.app.delete(&format!("/v1/tokens/{id}"), &w.svc).await.status, 204);
    key
}

async fn the_twilio_sdk_sends_sms_through_the_proxy(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "twilio", None).await;
    let real = fields("twilio", Scenario::Good).unwrap();
    let (sid, token, sender) = (&real["account_sid"], &real["auth_token"], &real["phone_number"]);
    // A limit on the key, so its units are taken as the requests go.
    let (key_id, vk) = w.virtual_key("user:alice", &["twilio"], Some(10)).await;
    let revoked = revoked_key(&w, "user:alice", "twilio").await;
    run(
        "twilio_sdk.py",
        &[
            ("BYOK_BASE_URL", &w.proxy_url("twilio", "")),
            ("BYOK_VIRTUAL_KEY", &vk),
            ("BYOK_REVOKED_KEY", &revoked),
            ("BYOK_ACCOUNT_SID", sid),
            ("BYOK_SENDER", sender),
        ],
    );

    // Two messages, one poll of a message and two pages of the list reached Twilio;
    // the revoked key, the other account and a send naming the real account did not.
    let sent = sent_to(&w, "twilio", "/Messages");
    let calls: Vec<(&str, &str)> = sent.iter().map(|s| (s.method.as_str(), s.path.as_str())).collect();
    let messages = format!("/2010-04-01/Accounts/{sid}/Messages.json");
    assert_eq!(&calls[..2], &[("POST", messages.as_str()), ("POST", messages.as_str())]);
    assert_eq!(calls.len(), 5, "{calls:?}");
    assert!(calls[2].1.starts_with(&format!("/2010-04-01/Accounts/{sid}/Messages/SM")), "{calls:?}");
    assert_eq!(&calls[3..], &[("GET", messages.as_str()), ("GET", messages.as_str())]);
    let page = |s: &RecordedRequest| s.query_pairs().into_iter().find(|(k, _)| k == "Page").map(|(_, v)| v);
    assert_eq!(
        (page(&sent[3]), page(&sent[4]).as_deref()),
        (None, Some("1")),
        "the second page followed Twilio's link"
    );
    for s in &sent {
        assert_eq!(
            s.header("authorization"),
            Some(basic(sid, token).as_str()),
            "the real SID and token, as basic auth"
        );
        assert!(
            s.header("user-agent").is_some_and(|ua| ua.starts_with("twilio-python/")),
            "the SDK's own headers pass"
        );
        no_byok_token(s);
    }
    let from = |s: &RecordedRequest| s.form().into_iter().find(|(k, _)| k == "From").map(|(_, v)| v);
    assert_eq!(from(&sent[0]).as_deref(), Some(sender.as_str()), "the sender the SDK named");
    assert_eq!(from(&sent[1]).as_deref(), Some(sender.as_str()), "the credential's number as the default sender");
    assert_eq!(sent[1].form().iter().filter(|(k, _)| k == "From").count(), 1);

    // Each message is one use of the key and the credential; reading them back is none.
    let key = w.app.get(&format!("/v1/tokens/{key_id}"), &w.svc).await;
    assert_eq!(key.body["usage"]["period"], 2, "the key paid for the messages only: {}", key.text);
    let view = w.eventually(&format!("/v1/credentials/{credential}"), |v| v["usage"]["total"] == 2).await;
    assert_eq!(view["usage"]["total"], 2);
}

async fn the_resend_sdk_sends_email_through_the_proxy(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "resend", None).await;
    let real = fields("resend", Scenario::Good).unwrap();
    let sender = &real["from_email"];
    // A limit on the key, so its units are taken as the requests go.
    let (key_id, vk) = w.virtual_key("user:alice", &["resend"], Some(10)).await;
    let revoked = revoked_key(&w, "user:alice", "resend").await;
    let (_, exhausted) = w.virtual_key("user:alice", &["resend"], Some(0)).await;
    run(
        "resend_sdk.py",
        &[
            ("BYOK_BASE_URL", &w.proxy_url("resend", "")),
            ("BYOK_VIRTUAL_KEY", &vk),
            ("BYOK_REVOKED_KEY", &revoked),
            ("BYOK_EXHAUSTED_KEY", &exhausted),
            ("BYOK_SENDER", sender),
        ],
    );

    let sent = sent_to(&w, "resend", "/emails");
    let calls: Vec<(&str, &str)> = sent.iter().map(|s| (s.method.as_str(), s.path.as_str())).collect();
    assert_eq!(calls[..2], [("POST", "/emails"), ("POST", "/emails")]);
    assert!(calls[2].0 == "GET" && calls[2].1.starts_with("/emails/"), "{calls:?}");
    assert_eq!(calls[3..], [("POST", "/emails/batch")]);
    for s in &sent {
        assert_eq!(s.header("authorization"), Some(format!("Bearer {}", real["api_key"]).as_str()));
        assert!(
            s.header("user-agent").is_some_and(|ua| ua.starts_with("resend-python:")),
            "the SDK's own headers pass"
        );
        no_byok_token(s);
    }
    let body = |s: &RecordedRequest| serde_json::from_slice::<serde_json::Value>(&s.body).unwrap();
    assert_eq!(body(&sent[0])["from"], format!("Acme <{sender}>"), "the sender the SDK named");
    assert_eq!(body(&sent[1])["from"], sender.as_str(), "the credential's address as the default sender");
    let batch = body(&sent[3]);
    assert_eq!((&batch[0]["from"], &batch[1]["from"]), (&json!(sender), &json!(format!("Acme <{sender}>"))));

    // Two emails and a batch are a use each; reading an email back is none.
    let key = w.app.get(&format!("/v1/tokens/{key_id}"), &w.svc).await;
    assert_eq!(key.body["usage"]["period"], 3, "the key paid for the sends only: {}", key.text);
    let view = w.eventually(&format!("/v1/credentials/{credential}"), |v| v["usage"]["total"] == 3).await;
    assert_eq!(view["usage"]["total"], 3);
}

/// Twilio's error shape, with byok's code in `details`.
fn twilio_error(r: &Resp, status: u16, code: u64, byok_code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        (r.body["code"].as_u64(), r.body["status"].as_u64()),
        (Some(code), Some(u64::from(status))),
        "{}",
        r.text
    );
    assert_eq!(r.body["more_info"], format!("https://www.twilio.com/docs/errors/{code}"));
    assert!(r.body["message"].is_string());
    assert_eq!(r.code(), byok_code);
}

async fn another_account_or_a_stray_key_never_reaches_twilio(engine: Engine) {
    let w = world(engine).await;
    w.credential("user:alice", "twilio", None).await;
    w.credential("user:alice", "resend", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["twilio", "resend"], None).await;
    let (_, other) = w.virtual_key("user:alice", &["twilio"], None).await;
    let sid = fields("twilio", Scenario::Good).unwrap()["account_sid"].clone();
    let send = |account: &str, auth: String, form: &str| {
        let url = w.proxy_url("twilio", &format!("/2010-04-01/Accounts/{account}/Messages.json"));
        w.app
            .client
            .post(url)
            .header("authorization", auth)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
    };
    let form = "To=%2B15558675310&Body=Hi";
    // The real SID, another account's, another virtual key's: refused; the account
    // segment stands only for the key that authenticates.
    for account in [sid.as_str(), "AC00000000000000000000000000000000", other.as_str()] {
        let r = w.app.send(send(account, basic(&vk, &vk), form)).await;
        twilio_error(&r, 403, 20403, "path_not_allowed");
    }
    // The key in the path, another byok key in the form.
    let r = w.app.send(send(&vk, basic(&vk, &vk), &format!("{form}&StatusCallback=https://x.example/{other}"))).await;
    twilio_error(&r, 400, 20001, "invalid_request");
    twilio_error(&w.app.send(send(&vk, basic(BAD_KEY, BAD_KEY), form)).await, 401, 20003, "invalid_api_key");
    let r =
        w.app.send(w.app.client.post(w.proxy_url("twilio", &format!("/2010-04-01/Accounts/{vk}/Messages.json")))).await;
    twilio_error(&r, 401, 20003, "invalid_api_key");
    assert!(sent_to(&w, "twilio", "/Messages").is_empty(), "a refused request reached Twilio");

    // Resend's names for the same refusals.
    let resend = |path: &str, key: Option<&str>| {
        let req = w.app.client.post(w.proxy_url("resend", path)).json(&json!({"to": ["a@example.org"]}));
        match key {
            Some(key) => req.bearer_auth(key),
            None => req,
        }
    };
    for (request, status, name, code) in [
        (resend("/emails", None), 401, "missing_api_key", "invalid_api_key"),
        (resend("/emails", Some(BAD_KEY)), 403, "invalid_api_key", "invalid_api_key"),
        (resend("/api-keys", Some(&vk)), 401, "restricted_api_key", "path_not_allowed"),
        (resend("/emails", Some(&other)), 403, "invalid_api_key", "provider_not_allowed"),
    ] {
        let r = w.app.send(request).await;
        assert_eq!(
            (r.status, r.body["statusCode"].as_u64(), r.body["name"].as_str()),
            (status, Some(u64::from(status)), Some(name)),
            "{}",
            r.text
        );
        assert_eq!((r.headers["content-type"].to_str().unwrap(), r.code()), ("application/json", code));
    }
    assert!(
        sent_to(&w, "resend", "/emails").is_empty() && sent_to(&w, "resend", "/api-keys").is_empty(),
        "a refused request reached Resend"
    );

    // The key where the SDK puts it goes through.
    let r = w.app.send(send(&vk, basic(&vk, &vk), form)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(w.last_sent("twilio").path, format!("/2010-04-01/Accounts/{sid}/Messages.json"));
}

async fn messaging_secrets_never_leak(engine: Engine) {
    let w = served_world(engine).await;
    // Credentials the fakes do not know: they answer with their invalid-credential
    // errors, which do not repeat the secret.
    let token = uuid::Uuid::new_v4().simple().to_string();
    let sid = fields("twilio", Scenario::Good).unwrap()["account_sid"].clone();
    let twilio = json!({"account_sid": sid, "auth_token": token, "phone_number": "+15005550006"});
    let resend_key = canary("re_");
    for (provider, fields) in
        [("twilio", twilio), ("resend", json!({"api_key": resend_key, "from_email": "hello@example.com"}))]
    {
        let r = w
            .app
            .post("/v1/credentials", &w.svc, json!({"owner": "user:carol", "provider": provider, "fields": fields}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let (key_id, vk) = w.virtual_key("user:carol", &["twilio", "resend"], None).await;
    let c = &w.app.client;
    let messages = w.proxy_url("twilio", &format!("/2010-04-01/Accounts/{vk}/Messages.json"));
    let mut answers = Vec::new();
    for req in [
        c.post(&messages).header("authorization", basic(&vk, &vk)).form(&[("To", "+15558675310"), ("Body", "Hi")]),
        c.get(&messages).header("authorization", basic(&vk, &vk)),
        c.post(w.proxy_url("resend", "/emails"))
            .bearer_auth(&vk)
            .header("user-agent", "byok-test")
            .json(&json!({"to": ["a@example.org"], "subject": "Hi", "text": "Hi"})),
        c.post(w.proxy_url("resend", "/api-keys")).bearer_auth(&vk).json(&json!({"name": "x"})),
    ] {
        answers.push(w.app.send(req).await);
    }
    assert_eq!(
        (answers[0].status, answers[0].body["code"].as_u64()),
        (401, Some(20003)),
        "Twilio's own answer: {}",
        answers[0].text
    );
    assert_eq!(
        (answers[2].status, answers[2].body["name"].as_str()),
        (403, Some("invalid_api_key")),
        "{}",
        answers[2].text
    );

    // Twilio refused the canary credentials, so byok marked them failing: the list
    // that followed found no usable credential and went nowhere.
    assert_eq!(answers[1].status, 404, "{}", answers[1].text);

    // The secrets did reach the providers, in their places.
    let twilio_sent = sent_to(&w, "twilio", "/Messages");
    assert_eq!(twilio_sent.len(), 1);
    assert!(twilio_sent.iter().all(|s| s.header("authorization") == Some(basic(&sid, &token).as_str())));
    let resend_sent = sent_to(&w, "resend", "/emails");
    assert_eq!(resend_sent.len(), 1);
    assert_eq!(resend_sent[0].header("authorization"), Some(format!("Bearer {resend_key}").as_str()));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&resend_sent[0].body).unwrap()["from"], "hello@example.com");

    for answer in &answers {
        let all = answer.everything();
        for secret in [&token, &resend_key, &vk] {
            assert!(!all.contains(secret.as_str()), "a secret in an answer: {all}");
        }
    }
    let logs = w.app.logs();
    assert!(logs.contains(&key_id), "the log capture sees this test's proxied requests");
    for secret in [&token, &resend_key, &vk] {
        assert!(!logs.contains(secret.as_str()), "a secret in the logs");
    }
}
