//! What reaches the provider and what comes back: the real key in the provider's own
//! place, the virtual key nowhere, answers byte for byte, tokens counted.

use base64::Engine as _;
use byok_fakes::{CHAT_COMPLETION, MESSAGE};
use serde_json::json;

use super::{assert_absent, real_key, world};
use crate::both_engines;
use crate::support::Engine;

both_engines!(
    openai_answers_pass_through_and_tokens_are_counted,
    anthropic_messages_with_x_api_key,
    the_key_is_found_in_every_sdk_place
);

async fn openai_answers_pass_through_and_tokens_are_counted(engine: Engine) {
    let w = world(engine).await;
    let credential = w.credential("user:alice", "openai", None).await;
    let (key_id, vk) = w.virtual_key("user:alice", &[], None).await;
    let ask = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]});

    let r = w.post_json("openai", "/v1/chat/completions", &vk, &ask).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, CHAT_COMPLETION);
    let sent = w.last_sent("openai");
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {}", real_key("openai")).as_str()));
    assert_absent(&sent, &vk);
    assert!(sent.headers.iter().all(|(n, _)| !n.starts_with("x-byok")));
    let direct = w.direct("openai", &sent).await;
    assert_eq!((direct.status, direct.text.as_str()), (r.status, r.text.as_str()));
    assert_eq!(direct.headers["content-type"], r.headers["content-type"]);

    // A stream: byok asks for the usage chunk, and the answer is the provider's, byte for byte.
    let mut stream_ask = ask.clone();
    stream_ask["stream"] = json!(true);
    let r = w.post_json("openai", "/v1/chat/completions", &vk, &stream_ask).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.headers["content-type"], "text/event-stream");
    let sent = w.last_sent("openai");
    let forwarded: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(forwarded["stream_options"], json!({"include_usage": true}));
    assert_eq!(forwarded["messages"], ask["messages"]);
    assert!(r.text.contains("\"usage\":{\"prompt_tokens\":9") && r.text.ends_with("data: [DONE]\n\n"));
    assert_eq!(w.direct("openai", &sent).await.text, r.text);

    // A stream that already says what it wants is left alone.
    stream_ask["stream_options"] = json!({"include_usage": false});
    let r = w.post_json("openai", "/v1/chat/completions", &vk, &stream_ask).await;
    assert_eq!(r.status, 200);
    assert!(!r.text.contains("usage"));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&w.last_sent("openai").body).unwrap(), stream_ask);

    let models = w.app.send(w.app.client.get(w.proxy_url("openai", "/v1/models")).bearer_auth(&vk)).await;
    assert_eq!(models.status, 200, "{}", models.text);
    assert_eq!(models.body["data"][0]["id"], "gpt-4o-mini");

    // Four requests; 14 + 14 tokens reported (the third stream reported none).
    let view = w
        .eventually(&format!("/v1/credentials/{credential}"), |v| {
            v["usage"]["tokens_total"] == 28 && v["usage"]["total"] == 4
        })
        .await;
    assert_eq!((view["usage"]["total"].clone(), view["usage"]["tokens_period"].clone()), (json!(4), json!(28)));
    let usage = w.app.get("/v1/usage?owner=user:alice", &w.svc).await;
    assert_eq!(
        (usage.body["items"][0]["tokens_total"].clone(), usage.body["items"][0]["tokens_period"].clone()),
        (json!(28), json!(28))
    );
    let key = w.eventually(&format!("/v1/tokens/{key_id}"), |v| v["usage"]["total"] == 4).await;
    assert_eq!((key["role"].clone(), key["usage"]["tokens_total"].clone()), (json!("virtual"), json!(28)));
    assert_eq!(key["owner"], "user:alice");
}

async fn anthropic_messages_with_x_api_key(engine: Engine) {
    let w = world(engine).await;
    let credential = w.credential("org:acme", "anthropic", None).await;
    let (_, vk) = w.virtual_key("org:acme", &["anthropic"], None).await;
    let ask = json!({"model": "claude-sonnet-4-5-20250929", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]});
    let send = |body: serde_json::Value| {
        w.app.send(
            w.app
                .client
                .post(w.proxy_url("anthropic", "/v1/messages"))
                .header("x-api-key", &vk)
                .header("anthropic-version", "2023-06-01")
                .json(&body),
        )
    };
    let r = send(ask.clone()).await;
    assert_eq!((r.status, r.text.as_str()), (200, MESSAGE));
    let sent = w.last_sent("anthropic");
    assert_eq!(sent.header("x-api-key"), Some(real_key("anthropic").as_str()));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_absent(&sent, &vk);

    let mut stream_ask = ask.clone();
    stream_ask["stream"] = json!(true);
    let r = send(stream_ask.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = w.last_sent("anthropic");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&sent.body).unwrap(),
        stream_ask,
        "Anthropic bodies go unchanged"
    );
    assert_eq!(w.direct("anthropic", &sent).await.text, r.text);
    assert!(r.text.starts_with("event: message_start"));

    // 10 + 7 from the JSON answer, 25 + 15 from the stream.
    let view = w
        .eventually(&format!("/v1/credentials/{credential}"), |v| {
            v["usage"]["tokens_total"] == 57 && v["usage"]["total"] == 2
        })
        .await;
    assert_eq!(view["usage"]["total"], 2);
}

async fn the_key_is_found_in_every_sdk_place(engine: Engine) {
    let w = world(engine).await;
    w.credential("user:alice", "openai", None).await;
    let (_, vk) = w.virtual_key("user:alice", &[], None).await;
    let models = w.proxy_url("openai", "/v1/models");
    let basic = |pair: String| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
    let client = &w.app.client;
    for (place, req) in [
        ("bearer", client.get(&models).bearer_auth(&vk)),
        ("x-api-key", client.get(&models).header("x-api-key", &vk)),
        ("x-goog-api-key", client.get(&models).header("x-goog-api-key", &vk)),
        ("?key=", client.get(format!("{models}?key={vk}&limit=5"))),
        ("basic password", client.get(&models).header("authorization", basic(format!("AC0123:{vk}")))),
        ("basic user", client.get(&models).header("authorization", basic(format!("{vk}:")))),
        // A body on a GET is tolerated and forwarded.
        ("get with a body", client.get(&models).bearer_auth(&vk).header("content-type", "application/json").body("{}")),
    ] {
        let r = w.app.send(req.header("x-byok-debug", "1").header("cookie", "byok_session=1")).await;
        assert_eq!(r.status, 200, "{place}: {}", r.text);
        let sent = w.last_sent("openai");
        assert_absent(&sent, &vk);
        assert_eq!(sent.header("authorization"), Some(format!("Bearer {}", real_key("openai")).as_str()), "{place}");
        assert!(sent.header("cookie").is_none() && sent.header("x-byok-debug").is_none(), "{place}");
        if place == "?key=" {
            assert_eq!(sent.query.as_deref(), Some("limit=5"));
        }
        if place == "get with a body" {
            assert_eq!(sent.body, b"{}");
        }
    }
}
