//! Virtual keys limited to certain models: the model named in the body (OpenAI) or the
//! path (Gemini) is held to the key's list, a refusal comes in the provider's shape and
//! nothing goes upstream; keys without a list reach every model.

use serde_json::json;

use super::world;
use crate::both_engines;
use crate::support::Engine;

both_engines!(a_virtual_key_reaches_only_its_models);

async fn a_virtual_key_reaches_only_its_models(engine: Engine) {
    let w = world(engine).await;
    w.credential("user:mia", "openai", None).await;
    w.credential("user:mia", "gemini", None).await;
    let r = w
        .app
        .post("/v1/tokens", &w.svc, json!({"role": "virtual", "owner": "user:mia", "providers": ["openai", "gemini"], "models": ["gpt-4o-mini", "gemini-2.0-*"]}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["models"], json!(["gpt-4o-mini", "gemini-2.0-*"]));
    let (id, key) = (r.body["id"].as_str().unwrap().to_owned(), r.body["token"].as_str().unwrap().to_owned());
    assert_eq!(
        w.app.get(&format!("/v1/tokens/{id}"), &w.svc).await.body["models"],
        json!(["gpt-4o-mini", "gemini-2.0-*"])
    );

    let chat = |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(w.post_json("openai", "/v1/chat/completions", &key, &chat("gpt-4o-mini")).await.status, 200);
    let sent = w.fakes.requests_to("openai").len();
    let refused = w.post_json("openai", "/v1/chat/completions", &key, &chat("gpt-4o")).await;
    assert_eq!((refused.status, refused.code()), (403, "model_not_allowed"), "{}", refused.text);
    assert_eq!(refused.body["error"]["type"], "permission_error", "OpenAI's shape: {}", refused.text);
    assert_eq!(w.fakes.requests_to("openai").len(), sent, "nothing went upstream");

    let gemini = json!({"contents": [{"parts": [{"text": "hi"}]}]});
    let ok = w.post_json("gemini", "/v1beta/models/gemini-2.0-flash:generateContent", &key, &gemini).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let refused = w.post_json("gemini", "/v1beta/models/gemini-1.5-pro:generateContent", &key, &gemini).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.body["error"]["status"], "PERMISSION_DENIED", "Gemini's shape: {}", refused.text);
    assert_eq!(refused.body["error"]["details"][0]["reason"], "model_not_allowed", "{}", refused.text);
    let listed = w.app.send(w.app.client.get(w.proxy_url("openai", "/v1/models")).bearer_auth(&key)).await;
    assert_eq!(listed.status, 200, "a listing names no model: {}", listed.text);

    let (_, open) = w.virtual_key("user:mia", &["openai"], None).await;
    assert_eq!(w.post_json("openai", "/v1/chat/completions", &open, &chat("gpt-4o")).await.status, 200);

    for (body, why) in [
        (json!({"role": "virtual", "owner": "user:mia", "providers": ["*"], "models": []}), "an empty list"),
        (json!({"role": "virtual", "owner": "user:mia", "providers": ["*"], "models": ["gp*t"]}), "a star inside"),
        (json!({"role": "virtual", "owner": "user:mia", "providers": ["*"], "models": ["a b"]}), "a space"),
        (json!({"role": "user", "owner": "user:mia", "models": ["gpt-4o"]}), "not a virtual key"),
    ] {
        let r = w.app.post("/v1/tokens", &w.svc, body).await;
        assert_eq!((r.status, r.code()), (422, "invalid_field"), "{why}: {}", r.text);
    }
}
