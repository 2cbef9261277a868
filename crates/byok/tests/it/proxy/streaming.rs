//! Streams pass through as they come, broken streams end cleanly for the client with
//! their unit counted, and bodies over the limit are refused.

use std::time::{Duration, Instant};

use byok::config::Layer;
use byok_fakes::SLOW_PAUSE;
use serde_json::json;

use super::{world, world_with};
use crate::both_engines;
use crate::support::Engine;

both_engines!(
    streamed_chunks_are_not_held_back,
    an_upstream_reset_ends_the_stream_and_keeps_the_unit,
    bodies_over_the_limit_are_refused
);

fn ask(model: &str) -> serde_json::Value {
    json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "Hi"}]})
}

async fn streamed_chunks_are_not_held_back(engine: Engine) {
    let w = world(engine).await;
    w.credential("user:alice", "openai", None).await;
    let (_, vk) = w.virtual_key("user:alice", &[], None).await;
    let started = Instant::now();
    let mut r = w
        .app
        .client
        .post(w.proxy_url("openai", "/v1/chat/completions"))
        .bearer_auth(&vk)
        .json(&ask("slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.unwrap().expect("a first chunk");
    let first_at = started.elapsed();
    assert!(String::from_utf8_lossy(&first).starts_with("data: {"), "{first:?}");
    assert!(first_at < SLOW_PAUSE / 2, "the first chunk took {first_at:?}: byok held it back");
    let mut rest = Vec::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert!(started.elapsed() >= SLOW_PAUSE * 3, "the fake paused between chunks");
    assert!(String::from_utf8_lossy(&rest).ends_with("data: [DONE]\n\n"));
}

async fn an_upstream_reset_ends_the_stream_and_keeps_the_unit(engine: Engine) {
    let w = world(engine).await;
    let credential = w.credential("user:alice", "openai", None).await;
    let (key_id, vk) = w.virtual_key("user:alice", &[], None).await;
    let mut r = w
        .app
        .client
        .post(w.proxy_url("openai", "/v1/chat/completions"))
        .bearer_auth(&vk)
        .json(&ask("reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut body = Vec::new();
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), r.chunk()).await.expect("the stream ends") {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break "end",
            Err(_) => break "error",
        }
    };
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with("data: {") && !text.contains("[DONE]"), "{ended}: {text}");
    assert_eq!(ended, "error", "a broken stream must not look complete");
    // The unit stays counted.
    w.eventually(&format!("/v1/credentials/{credential}"), |v| v["usage"]["total"] == 1).await;
    w.eventually(&format!("/v1/tokens/{key_id}"), |v| v["usage"]["total"] == 1).await;
    // The service keeps working.
    let ok = w.post_json("openai", "/v1/chat/completions", &vk, &json!({"model": "gpt-4o-mini", "messages": []})).await;
    assert_eq!(ok.status, 200);
}

async fn bodies_over_the_limit_are_refused(engine: Engine) {
    let w = world_with(engine, Layer { proxy_max_body_bytes: Some(1024), ..Layer::default() }).await;
    let credential = w.credential("user:alice", "openai", None).await;
    let (_, vk) = w.virtual_key("user:alice", &[], None).await;
    let big = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x".repeat(2000)}]});
    let r = w.post_json("openai", "/v1/chat/completions", &vk, &big).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (413, Some("payload_too_large")), "{}", r.text);
    // A chunked body without a declared length is cut off on the way.
    let chunks = (0..4).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 512]));
    let r = w
        .app
        .send(
            w.app
                .client
                .post(w.proxy_url("openai", "/v1/files"))
                .bearer_auth(&vk)
                .header("content-type", "application/octet-stream")
                .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks))),
        )
        .await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (413, Some("payload_too_large")), "{}", r.text);
    let small =
        w.post_json("openai", "/v1/chat/completions", &vk, &json!({"model": "gpt-4o-mini", "messages": []})).await;
    assert_eq!(small.status, 200, "{}", small.text);
    // A declared oversize body takes no unit; a streamed one is cut after taking it.
    w.eventually(&format!("/v1/credentials/{credential}"), |v| v["usage"]["total"] == 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(w.app.get(&format!("/v1/credentials/{credential}"), &w.svc).await.body["usage"]["total"], 2);
}
