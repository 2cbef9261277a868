//! LLM SDKs beyond OpenAI's and Anthropic's Python packages, pointed at byok's proxy
//! with a virtual key: Google's `google-genai`, `groq`, OpenRouter through `openai`, and
//! the responses API, embeddings and models of `openai`. Each test checks what reached
//! the fake (the real key in the provider's own place, no byok token anywhere) and the
//! credential's counters (requests and tokens) afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::sdk::run;
use super::{World, served_world};
use crate::both_engines;
use crate::support::Engine;

both_engines!(
    the_gemini_sdk_works_through_the_proxy,
    the_groq_sdk_works_through_the_proxy,
    openrouter_works_through_the_proxy_with_the_openai_sdk,
    the_node_openai_sdk_works_through_the_proxy,
);

/// A key of the right shape that byok never issued.
pub(super) const BAD_KEY: &str = "byok_vk_0000000000000000000000000000000000000000000000000000000000000000";

/// Every request the fake for `provider` received carried the real key in `header`
/// (as `prefix` + key) and nothing of byok's; returns how many there were.
pub(super) fn assert_real_key_only(w: &World, provider: &str, header: &str, prefix: &str, vk: &str) -> usize {
    let sent = w.fakes.requests_to(provider);
    let real = format!("{prefix}{}", super::real_key(provider));
    for s in &sent {
        super::assert_absent(s, vk);
        super::assert_absent(s, "byok_");
        assert_eq!(
            s.header(header),
            Some(real.as_str()),
            "{provider}: the real key in {header} of {} {}",
            s.method,
            s.path
        );
    }
    sent.len()
}

/// The credential's view once its counters reach `requests` and `tokens`.
pub(super) async fn counted(w: &World, credential: &str, requests: u64, tokens: u64) -> Value {
    let view = w
        .eventually(&format!("/v1/credentials/{credential}"), |v| {
            v["usage"]["total"] == requests && v["usage"]["tokens_total"] == tokens
        })
        .await;
    assert_eq!(
        (view["usage"]["total"].as_u64(), view["usage"]["tokens_total"].as_u64()),
        (Some(requests), Some(tokens))
    );
    view
}

async fn the_gemini_sdk_works_through_the_proxy(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "gemini", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["gemini"], None).await;
    w.credential("user:bob", "gemini", Some(0)).await;
    let (_, bob) = w.virtual_key("user:bob", &["gemini"], None).await;
    run(
        "gemini_sdk.py",
        &[
            ("BYOK_BASE_URL", &w.proxy_url("gemini", "")),
            ("BYOK_VIRTUAL_KEY", &vk),
            ("BYOK_EXHAUSTED_KEY", &bob),
            ("BYOK_BAD_KEY", BAD_KEY),
        ],
    );
    // generate_content reports 9 tokens, the stream's last chunk 10, count_tokens none.
    counted(&w, &credential, 3, 19).await;
    assert_eq!(assert_real_key_only(&w, "gemini", "x-goog-api-key", "", &vk), 3);
    let paths: Vec<String> = w.fakes.requests_to("gemini").iter().map(|s| s.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/v1/models/gemini-2.5-flash:generateContent",
            "/v1/models/gemini-2.5-flash:streamGenerateContent",
            "/v1/models/gemini-2.5-flash:countTokens"
        ]
    );
}

async fn the_groq_sdk_works_through_the_proxy(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "groq", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["groq"], None).await;
    run(
        "groq_sdk.py",
        &[("BYOK_BASE_URL", &w.proxy_url("groq", "")), ("BYOK_VIRTUAL_KEY", &vk), ("BYOK_BAD_KEY", BAD_KEY)],
    );
    counted(&w, &credential, 2, 48).await;
    assert_eq!(assert_real_key_only(&w, "groq", "authorization", "Bearer ", &vk), 2);
    for s in w.fakes.requests_to("groq") {
        assert_eq!(s.path, "/openai/v1/chat/completions");
        assert!(s.header("user-agent").is_some_and(|ua| ua.starts_with("Groq/Python")), "the SDK's own headers pass");
    }
}

async fn openrouter_works_through_the_proxy_with_the_openai_sdk(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "openrouter", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["openrouter"], None).await;
    run(
        "openrouter_sdk.py",
        &[
            ("BYOK_BASE_URL", &w.proxy_url("openrouter", "/api/v1")),
            ("BYOK_VIRTUAL_KEY", &vk),
            ("BYOK_BAD_KEY", BAD_KEY),
        ],
    );
    counted(&w, &credential, 2, 32).await;
    assert_eq!(assert_real_key_only(&w, "openrouter", "authorization", "Bearer ", &vk), 2);
}

/// Runs the Node script `script` with the `openai` package that `scripts/sdk-venv.sh`
/// installed beside the venv of `BYOK_TEST_PYTHON` (VENV/node); fails, never skips,
/// without Node or the package.
fn run_node(script: &str, envs: &[(&str, &str)]) {
    let python = std::env::var("BYOK_TEST_PYTHON").expect("BYOK_TEST_PYTHON is not set: run scripts/sdk-venv.sh");
    let venv = Path::new(&python).parent().and_then(Path::parent).expect("BYOK_TEST_PYTHON is VENV/bin/python");
    let modules = venv.join("node").join("node_modules");
    assert!(modules.join("openai").is_dir(), "{} has no `openai` package: run scripts/sdk-venv.sh", modules.display());
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "sdk", script].iter().collect();
    let out = Command::new("node")
        .arg(&path)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NODE_PATH", &modules)
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("`node` could not be run ({e}): install Node.js 20 (scripts/test.sh does)"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{script} failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains(": ok"), "{script} did not finish: {stdout}");
}

async fn the_node_openai_sdk_works_through_the_proxy(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "openai", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["openai"], None).await;
    run_node(
        "openai_node.cjs",
        &[("BYOK_BASE_URL", &w.proxy_url("openai", "/v1")), ("BYOK_VIRTUAL_KEY", &vk), ("BYOK_BAD_KEY", BAD_KEY)],
    );
    counted(&w, &credential, 2, 28).await;
    assert_eq!(assert_real_key_only(&w, "openai", "authorization", "Bearer ", &vk), 2);
    for s in w.fakes.requests_to("openai") {
        assert_eq!(s.header("x-stainless-lang"), Some("js"), "the Node SDK's own headers pass");
    }
}
