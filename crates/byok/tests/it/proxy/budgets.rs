//! Token budgets: `monthly_token_limit` of a virtual key or a credential counts the tokens providers
//! report; the request that crosses it finishes, the next is refused in the provider's
//! shape, and the key's view reports tokens against the budget.

use serde_json::json;

use super::world;
use crate::both_engines;
use crate::support::Engine;

both_engines!(
    a_virtual_keys_token_budget_stops_the_next_request,
    a_credentials_token_budget_moves_requests_to_the_next_key
);

/// Tokens the fake's chat completion reports.
const TOKENS_PER_CHAT: i64 = 14;

async fn a_virtual_keys_token_budget_stops_the_next_request(engine: Engine) {
    let w = world(engine).await;
    w.credential("user:ren", "openai", None).await;
    let r = w
        .app
        .post(
            "/v1/tokens",
            &w.svc,
            json!({"role": "virtual", "owner": "user:ren", "providers": ["openai"], "monthly_token_limit": 20}),
        )
        .await;
    assert_eq!((r.status, &r.body["monthly_token_limit"]), (201, &json!(20)), "{}", r.text);
    let (key_id, key) = (r.body["id"].as_str().unwrap().to_owned(), r.body["token"].as_str().unwrap().to_owned());
    let chat = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});

    // An answer under a budget, streamed or not, ends once its tokens are written: no
    // waiting between requests.
    let streamed = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let first = w.post_json("openai", "/v1/chat/completions", &key, &streamed).await;
    assert!(first.status == 200 && first.text.contains("[DONE]"), "{}", first.text);
    // 14 of 20: allowed, and it crosses the budget (tokens are known only after the answer).
    assert_eq!(w.post_json("openai", "/v1/chat/completions", &key, &chat).await.status, 200);
    let view = w.app.get(&format!("/v1/tokens/{key_id}"), &w.svc).await;
    assert_eq!(view.body["usage"]["tokens_period"], 2 * TOKENS_PER_CHAT, "{}", view.text);
    assert_eq!(view.body["usage"]["monthly_token_limit"], 20, "{}", view.text);

    let refused = w.post_json("openai", "/v1/chat/completions", &key, &chat).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(refused.body["error"]["code"], "virtual_key_quota_exhausted", "OpenAI's error shape: {}", refused.text);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("20 tokens"), "{}", refused.text);
    assert_eq!(w.fakes.requests_to("openai").len(), 2, "the refused request never reached the provider");

    for bad in [json!(-1), json!("many")] {
        let body = json!({"role": "virtual", "owner": "user:ren", "monthly_token_limit": bad});
        let r = w.app.post("/v1/tokens", &w.svc, body).await;
        assert_eq!(r.status, 422, "{}", r.text);
    }
    let r = w.app.post("/v1/tokens", &w.app.admin, json!({"role": "service", "monthly_token_limit": 5})).await;
    assert_eq!(r.status, 422, "only virtual keys have a token budget: {}", r.text);
}

async fn a_credentials_token_budget_moves_requests_to_the_next_key(engine: Engine) {
    let w = world(engine).await;
    let body = json!({"owner": "user:sol", "provider": "openai", "label": "budgeted", "monthly_token_limit": 20,
        "fields": byok_fakes::fields("openai", byok_fakes::Scenario::Good)});
    let r = w.app.post("/v1/credentials", &w.svc, body).await;
    assert_eq!((r.status, &r.body["usage"]["monthly_token_limit"]), (201, &json!(20)), "{}", r.text);
    let budgeted = r.body["id"].as_str().unwrap().to_owned();
    let (_, key) = w.virtual_key("user:sol", &["openai"], None).await;
    let chat = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let path = format!("/v1/credentials/{budgeted}");

    for _ in 0..2 {
        assert_eq!(w.post_json("openai", "/v1/chat/completions", &key, &chat).await.status, 200);
    }
    let refused = w.post_json("openai", "/v1/chat/completions", &key, &chat).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(refused.body["error"]["code"], "quota_exhausted", "OpenAI's error shape: {}", refused.text);
    assert_eq!(w.fakes.requests_to("openai").len(), 2, "the refused request never reached the provider");
    let available = w.app.get("/v1/availability?user=sol", &w.svc).await;
    let openai = available.body["items"].as_array().unwrap().iter().find(|i| i["provider"] == "openai").unwrap();
    assert_eq!(
        (&openai["usable"], &openai["reason"]),
        (&json!(false), &json!("quota_exhausted")),
        "{}",
        available.text
    );
    let usage = w.app.get("/v1/usage?owner=user:sol", &w.svc).await;
    let item = &usage.body["items"][0];
    assert_eq!((&item["tokens_period"], &item["monthly_token_limit"]), (&json!(28), &json!(20)), "{}", usage.text);

    // The owner's next key serves while the budget is spent; lifting the budget brings the first back.
    let other = w.credential("user:sol", "openai", None).await;
    w.app.patch(&format!("/v1/credentials/{other}"), &w.svc, json!({"priority": 5})).await;
    assert_eq!(w.post_json("openai", "/v1/chat/completions", &key, &chat).await.status, 200);
    w.eventually(&format!("/v1/credentials/{other}"), |c| c["usage"]["total"] == 1).await;
    let r = w.app.patch(&path, &w.svc, json!({"monthly_token_limit": null})).await;
    assert_eq!((r.status, &r.body["usage"]["monthly_token_limit"]), (200, &json!(null)), "{}", r.text);
    assert_eq!(w.post_json("openai", "/v1/chat/completions", &key, &chat).await.status, 200);
    w.eventually(&path, |c| c["usage"]["total"] == 3).await;

    let r = w.app.patch(&path, &w.svc, json!({"monthly_token_limit": -5})).await;
    r.assert_problem(422, "invalid_field");
}
