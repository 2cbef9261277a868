//! Failover: a request whose body byok holds whole goes out again with the owner's
//! next key of the same tier when the provider refuses the key (401/403), limits it
//! (429) or fails (5xx); each attempt is audited and counted against its key, the bill
//! never moves to another tier, and a streamed upload is never sent twice.

use byok_fakes::{Scenario, fields};
use serde_json::{Value, json};

use super::{World, world};
use crate::both_engines;
use crate::support::Engine;

both_engines!(
    three_keys_refused_then_limited_then_served,
    a_failing_provider_never_moves_the_bill_to_another_tier,
    a_streamed_upload_is_never_sent_again
);

fn chat() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
}

async fn store(
    w: &World,
    owner: &str,
    provider: &str,
    scenario: Scenario,
    priority: i64,
    limit: Option<i64>,
) -> String {
    let body = json!({"owner": owner, "provider": provider, "label": format!("p{priority}"), "priority": priority,
        "monthly_limit": limit, "fields": fields(provider, scenario).unwrap()});
    let r = w.app.post("/v1/credentials", &w.app.admin, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

fn attempts(r: &crate::support::Resp) -> Option<&str> {
    r.headers.get("x-byok-attempts").and_then(|v| v.to_str().ok())
}

async fn three_keys_refused_then_limited_then_served(engine: Engine) {
    let w = world(engine).await;
    let refused = store(&w, "user:kai", "openai", Scenario::Invalid, 0, None).await;
    let limited = store(&w, "user:kai", "openai", Scenario::RateLimited, 1, Some(10)).await;
    let good = store(&w, "user:kai", "openai", Scenario::Good, 2, None).await;
    let (key_id, key) = w.virtual_key("user:kai", &["openai"], Some(10)).await;

    let answer = w.post_json("openai", "/v1/chat/completions", &key, &chat()).await;
    assert_eq!((answer.status, attempts(&answer)), (200, Some("3")), "{}", answer.text);
    assert_eq!(answer.body["object"], "chat.completion", "the served answer: {}", answer.text);
    let sent = w.fakes.requests_to("openai");
    let keys: Vec<Option<&str>> = sent.iter().map(|r| r.header("authorization")).collect();
    let bearer = |s: Scenario| format!("Bearer {}", fields("openai", s).unwrap()["api_key"]);
    let expected = [bearer(Scenario::Invalid), bearer(Scenario::RateLimited), bearer(Scenario::Good)];
    assert_eq!(
        keys,
        expected.iter().map(|k| Some(k.as_str())).collect::<Vec<_>>(),
        "one request per key, in priority order"
    );
    assert!(sent.windows(2).all(|p| p[0].body == p[1].body), "the same body each time");

    let w = &w;
    let view = |id: String| async move { w.app.get(&format!("/v1/credentials/{id}"), &w.svc).await.body };
    let refused_view = view(refused.clone()).await;
    assert_eq!(refused_view["status"], "error", "the refused key is marked: {refused_view}");
    assert!(refused_view["status_message"].as_str().unwrap().contains("answered 401"), "{refused_view}");
    let limited_view = view(limited.clone()).await;
    assert_ne!(limited_view["status"], "error", "a rate-limited key is not marked failing: {limited_view}");
    assert_eq!(limited_view["usage"]["period"], 1, "its unit was taken before it went out");
    for id in [&refused, &good] {
        w.eventually(&format!("/v1/credentials/{id}"), |c| c["usage"]["period"] == 1).await;
    }
    let key_usage = w.app.get(&format!("/v1/tokens/{key_id}"), &w.svc).await;
    assert_eq!(key_usage.body["usage"]["period"], 1, "one unit of the virtual key for one request");
    let audit = w
        .eventually("/v1/audit?action=credential.proxy&owner=user:kai", |b| b["items"].as_array().unwrap().len() >= 3)
        .await;
    let mut audited: Vec<&str> =
        audit["items"].as_array().unwrap().iter().filter_map(|e| e["credential_id"].as_str()).collect();
    audited.sort_unstable();
    let mut all = vec![refused.as_str(), limited.as_str(), good.as_str()];
    all.sort_unstable();
    assert_eq!(audited, all, "each attempt audited once against its key: {audit}");

    // The limited key is tried again next time (it is not failing); the refused one is not.
    let answer = w.post_json("openai", "/v1/chat/completions", &key, &chat()).await;
    assert_eq!((answer.status, attempts(&answer)), (200, Some("2")), "{}", answer.text);
}

async fn a_failing_provider_never_moves_the_bill_to_another_tier(engine: Engine) {
    let w = world(engine).await;
    let platform = store(&w, "platform", "openai", Scenario::Good, 0, None).await;
    store(&w, "user:lia", "openai", Scenario::RateLimited, 0, None).await;
    let (_, key) = w.virtual_key("user:lia", &["openai"], None).await;
    let answer = w.post_json("openai", "/v1/chat/completions", &key, &chat()).await;
    assert_eq!((answer.status, attempts(&answer)), (429, Some("1")), "{}", answer.text);
    assert_eq!(answer.body["error"]["code"], "rate_limit_exceeded", "the provider's answer as it came");
    assert_eq!(w.fakes.requests_to("openai").len(), 1);

    // A server error moves on to the owner's next key, never to the platform's.
    store(&w, "user:lia", "openai", Scenario::ServerError, 1, None).await;
    let answer = w.post_json("openai", "/v1/chat/completions", &key, &chat()).await;
    assert_eq!((answer.status, attempts(&answer)), (500, Some("2")), "{}", answer.text);
    let good = store(&w, "user:lia", "openai", Scenario::Good, 2, None).await;
    let answer = w.post_json("openai", "/v1/chat/completions", &key, &chat()).await;
    assert_eq!((answer.status, attempts(&answer)), (200, Some("3")), "{}", answer.text);
    // Counted after the answer: once the user's key shows its use, the platform's would too.
    w.eventually(&format!("/v1/credentials/{good}"), |c| c["usage"]["total"] == 1).await;
    let platform_view = w.app.get(&format!("/v1/credentials/{platform}"), &w.app.admin).await;
    assert_eq!(platform_view.body["usage"]["total"], 0, "{}", platform_view.text);
}

async fn a_streamed_upload_is_never_sent_again(engine: Engine) {
    let w = world(engine).await;
    store(&w, "user:mio", "stability", Scenario::RateLimited, 0, None).await;
    store(&w, "user:mio", "stability", Scenario::Good, 1, None).await;
    let (_, key) = w.virtual_key("user:mio", &["stability"], None).await;
    let form = "--b0undary\r\ncontent-disposition: form-data; name=\"prompt\"\r\n\r\na lighthouse\r\n--b0undary--\r\n";
    let request = w
        .app
        .client
        .post(w.proxy_url("stability", "/v2beta/stable-image/generate/core"))
        .bearer_auth(&key)
        .header("content-type", "multipart/form-data; boundary=b0undary")
        .header("accept", "application/json")
        .body(form);
    let answer = w.app.send(request).await;
    assert_eq!((answer.status, attempts(&answer)), (429, Some("1")), "{}", answer.text);
    assert_eq!(answer.body["name"], "rate_limit_exceeded", "{}", answer.text);
    assert_eq!(w.fakes.requests_to("stability").len(), 1, "the upload went out once");
}
