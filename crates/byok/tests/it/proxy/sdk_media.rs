//! AI video and images through byok's proxy with a virtual key: Runway's SDK creating
//! an image-to-video task and polling it to completion (a poll is no new use), and
//! Stability's REST API as its docs call it (a multipart upload answered with the
//! image's bytes, passed through unchanged). Each test checks what reached the fake and
//! the counters afterwards.

use byok_fakes::{RUNWAY_OUTPUT, STABILITY_IMAGE};
use serde_json::json;

use super::sdk::run;
use super::sdk_llm::{BAD_KEY, assert_real_key_only, counted};
use super::{served_world, world};
use crate::both_engines;
use crate::support::Engine;

both_engines!(
    the_runway_sdk_makes_a_video_through_the_proxy_and_polls_count_no_use,
    polls_of_an_unlimited_credential_count_no_use_either,
    stabilitys_rest_api_answers_image_bytes_unchanged_through_the_proxy,
);

async fn the_runway_sdk_makes_a_video_through_the_proxy_and_polls_count_no_use(engine: Engine) {
    let w = served_world(engine).await;
    // Limits on both sides: a creation takes a unit of each, a poll takes none.
    let credential = w.credential("user:alice", "runway", Some(5)).await;
    let (key_id, vk) = w.virtual_key("user:alice", &["runway"], Some(3)).await;
    let (_, exhausted) = w.virtual_key("user:alice", &["runway"], Some(0)).await;
    run(
        "runway_sdk.py",
        &[
            ("BYOK_BASE_URL", &w.proxy_url("runway", "")),
            ("BYOK_VIRTUAL_KEY", &vk),
            ("BYOK_EXHAUSTED_KEY", &exhausted),
            ("BYOK_BAD_KEY", BAD_KEY),
            ("BYOK_EXPECTED_OUTPUT", RUNWAY_OUTPUT),
        ],
    );
    let sent = w.fakes.requests_to("runway");
    let calls: Vec<(&str, &str)> = sent.iter().map(|s| (s.method.as_str(), s.path.as_str())).collect();
    let task = "/v1/tasks/17f20503-6c24-4c16-946b-000000000001";
    assert_eq!(calls, [("POST", "/v1/image_to_video"), ("GET", task), ("GET", task), ("GET", task), ("GET", task)]);
    for s in &sent {
        assert_eq!(s.header("x-runway-version"), Some("2024-11-06"), "the SDK's version header passes");
        super::assert_absent(s, &exhausted);
    }
    assert_eq!(assert_real_key_only(&w, "runway", "authorization", "Bearer ", &vk), 5);
    counted(&w, &credential, 1, 0).await;
    let key = w.app.get(&format!("/v1/tokens/{key_id}"), &w.svc).await;
    assert_eq!(key.body["usage"]["period"], 1, "the key paid for the task only: {}", key.text);
}

async fn polls_of_an_unlimited_credential_count_no_use_either(engine: Engine) {
    let w = world(engine).await;
    let credential = w.credential("user:bob", "runway", None).await;
    let (key_id, vk) = w.virtual_key("user:bob", &["runway"], None).await;
    let (app, key) = (&w.app, vk.as_str());
    let send = move |req: reqwest::RequestBuilder| async move {
        let r = app.send(req.bearer_auth(key).header("X-Runway-Version", "2024-11-06")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    };
    let body = json!({"model": "gen4_turbo", "promptImage": "https://example.com/a.jpg", "ratio": "1280:720"});
    let created = send(w.app.client.post(w.proxy_url("runway", "/v1/image_to_video")).json(&body)).await;
    let task = w.proxy_url("runway", &format!("/v1/tasks/{}", created["id"].as_str().unwrap()));
    for status in ["PENDING", "RUNNING", "SUCCEEDED", "SUCCEEDED"] {
        assert_eq!(send(w.app.client.get(&task)).await["status"], status);
    }
    counted(&w, &credential, 1, 0).await;
    let key = w.eventually(&format!("/v1/tokens/{key_id}"), |v| v["usage"]["total"] == 1).await;
    assert_eq!(key["usage"]["total"], 1);
}

async fn stabilitys_rest_api_answers_image_bytes_unchanged_through_the_proxy(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "stability", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["stability"], None).await;
    let hex: String = STABILITY_IMAGE.iter().map(|b| format!("{b:02x}")).collect();
    run(
        "stability_rest.py",
        &[
            ("BYOK_BASE_URL", &w.proxy_url("stability", "")),
            ("BYOK_VIRTUAL_KEY", &vk),
            ("BYOK_BAD_KEY", BAD_KEY),
            ("BYOK_EXPECTED_IMAGE", &hex),
        ],
    );
    assert_eq!(assert_real_key_only(&w, "stability", "authorization", "Bearer ", &vk), 1);
    let sent = w.last_sent("stability");
    assert!(sent.header("content-type").is_some_and(|ct| ct.starts_with("multipart/form-data; boundary=")));
    assert!(sent.body_text().contains("Lighthouse on a cliff"), "the multipart body passes");
    counted(&w, &credential, 1, 0).await;
}
