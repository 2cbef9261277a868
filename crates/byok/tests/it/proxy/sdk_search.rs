//! Search through byok's proxy with Exa's SDK and a virtual key: the key goes in Exa's
//! `x-api-key`, and byok's refusals carry Exa's error body.

use super::sdk::run;
use super::sdk_llm::{BAD_KEY, assert_real_key_only, counted};
use super::served_world;
use crate::both_engines;
use crate::support::Engine;

both_engines!(the_exa_sdk_searches_through_the_proxy);

async fn the_exa_sdk_searches_through_the_proxy(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "exa", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["exa"], None).await;
    run(
        "exa_sdk.py",
        &[("BYOK_BASE_URL", &w.proxy_url("exa", "")), ("BYOK_VIRTUAL_KEY", &vk), ("BYOK_BAD_KEY", BAD_KEY)],
    );
    assert_eq!(assert_real_key_only(&w, "exa", "x-api-key", "", &vk), 1);
    let sent = w.last_sent("exa");
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/search"));
    assert!(sent.header("user-agent").is_some_and(|ua| ua.starts_with("exa-py")), "the SDK's own headers pass");
    counted(&w, &credential, 1, 0).await;
}
