//! The official OpenAI and Anthropic Python SDKs, pointed at byok's proxy, work
//! unchanged and raise their usual error types for byok's refusals. The interpreter
//! comes from `BYOK_TEST_PYTHON` (a venv made by `scripts/sdk-venv.sh`); without it
//! these tests fail, they do not skip.

use std::path::PathBuf;
use std::process::Command;

use super::served_world;
use crate::both_engines;
use crate::support::Engine;

both_engines!(the_openai_sdk_works_through_the_proxy, the_anthropic_sdk_works_through_the_proxy);

fn python() -> String {
    std::env::var("BYOK_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "BYOK_TEST_PYTHON is not set: the SDK tests need a Python with the official `openai` and \
             `anthropic` packages; run `export BYOK_TEST_PYTHON=$(scripts/sdk-venv.sh)` (see README)"
        )
    })
}

/// Runs `script` with `envs`; fails the test with the script's output unless it passes.
pub(super) fn run(script: &str, envs: &[(&str, &str)]) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "sdk", script].iter().collect();
    let out = Command::new(python())
        .arg(&path)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("BYOK_TEST_PYTHON could not be run: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{script} failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains(": ok"), "{script} did not finish: {stdout}");
}

async fn the_openai_sdk_works_through_the_proxy(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "openai", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["openai"], None).await;
    let (_, exhausted) = w.virtual_key("user:alice", &["openai"], Some(0)).await;
    let base = w.proxy_url("openai", "/v1");
    run(
        "openai_sdk.py",
        &[
            ("BYOK_BASE_URL", &base),
            ("BYOK_VIRTUAL_KEY", &vk),
            ("BYOK_EXHAUSTED_KEY", &exhausted),
            ("BYOK_BAD_KEY", "byok_vk_0000000000000000000000000000000000000000000000000000000000000000"),
        ],
    );
    let view = w
        .eventually(&format!("/v1/credentials/{credential}"), |v| {
            v["usage"]["tokens_total"] == 48 && v["usage"]["total"] == 5
        })
        .await;
    // 14 tokens each for the completion and the stream, 17 for the response, 3 for the
    // embedding.
    assert_eq!(view["usage"]["total"], 5, "models, a completion, a stream, a response and an embedding");
    let sent = w.fakes.requests_to("openai");
    assert_eq!(sent.len(), 5);
    let real = format!("Bearer {}", super::real_key("openai"));
    for s in &sent {
        super::assert_absent(s, &vk);
        super::assert_absent(s, "byok_");
        assert_eq!(s.header("authorization"), Some(real.as_str()));
        assert!(s.header("user-agent").is_some_and(|ua| ua.starts_with("OpenAI/Python")), "the SDK's own headers pass");
    }
}

async fn the_anthropic_sdk_works_through_the_proxy(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "anthropic", None).await;
    let (_, vk) = w.virtual_key("user:alice", &[], None).await;
    w.credential("user:bob", "anthropic", Some(0)).await;
    let (_, bob) = w.virtual_key("user:bob", &[], None).await;
    let base = w.proxy_url("anthropic", "");
    run(
        "anthropic_sdk.py",
        &[
            ("BYOK_BASE_URL", &base),
            ("BYOK_VIRTUAL_KEY", &vk),
            ("BYOK_EXHAUSTED_KEY", &bob),
            ("BYOK_BAD_KEY", "byok_vk_0000000000000000000000000000000000000000000000000000000000000000"),
        ],
    );
    let view = w
        .eventually(&format!("/v1/credentials/{credential}"), |v| {
            v["usage"]["tokens_total"] == 57 && v["usage"]["total"] == 2
        })
        .await;
    assert_eq!(view["usage"]["total"], 2);
    for s in &w.fakes.requests_to("anthropic") {
        super::assert_absent(s, &vk);
        assert_eq!(s.header("x-api-key"), Some(super::real_key("anthropic").as_str()));
    }
}
