//! The API-key providers: the documented endpoint, method, headers and key placement,
//! and their "valid but restricted" answers.

use byok_fakes::{RecordedRequest, Scenario};
use byok_providers::ProbeOutcomeKind::{Connected, Invalid, Restricted};

use crate::support::{Harness, assert_kind, key};

fn assert_get(req: &RecordedRequest, path: &str, query: Option<&str>) {
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, path);
    assert_eq!(req.query.as_deref(), query);
    assert!(req.body.is_empty());
}

fn assert_bearer(req: &RecordedRequest, provider: &str) {
    let k = key(provider, Scenario::Good, "api_key");
    assert_eq!(req.header("authorization"), Some(format!("Bearer {k}").as_str()));
    assert!(!req.query.as_deref().unwrap_or_default().contains(&k));
}

#[tokio::test]
async fn openai_lists_models_with_a_bearer_key_and_optional_org_headers() {
    let h = Harness::start().await;
    assert_kind(&h.probe("openai", Scenario::Good).await, Connected);
    let req = h.only_request("openai");
    assert_get(&req, "/v1/models", None);
    assert_bearer(&req, "openai");
    assert_eq!(req.header("openai-organization"), None);

    let mut fields = byok_fakes::fields("openai", Scenario::Good).unwrap();
    fields.insert("organization".into(), "org-byok123".into());
    fields.insert("project".into(), "proj_byok456".into());
    assert_kind(&h.probe_fields("openai", fields).await, Connected);
    let req = h.sent("openai").pop().unwrap();
    assert_eq!(req.header("openai-organization"), Some("org-byok123"));
    assert_eq!(req.header("openai-project"), Some("proj_byok456"));
}

#[tokio::test]
async fn openai_names_its_reason_without_echoing_the_masked_key() {
    let h = Harness::start().await;
    let invalid = h.probe("openai", Scenario::Invalid).await;
    assert_kind(&invalid, Invalid);
    assert_eq!(
        invalid.message,
        "OpenAI rejected the credentials: Incorrect API key provided (invalid_api_key, HTTP 401)."
    );
    // A restricted key without the models scope answers 401 too, but is valid.
    let restricted = h.probe("openai", Scenario::Restricted).await;
    assert_kind(&restricted, Restricted);
    assert!(restricted.message.contains("insufficient permissions for this operation"), "{restricted:?}");
}

#[tokio::test]
async fn anthropic_sends_x_api_key_and_the_api_version() {
    let h = Harness::start().await;
    assert_kind(&h.probe("anthropic", Scenario::Good).await, Connected);
    let req = h.only_request("anthropic");
    assert_get(&req, "/v1/models", Some("limit=1"));
    assert_eq!(req.header("x-api-key"), Some(key("anthropic", Scenario::Good, "api_key").as_str()));
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(req.header("authorization"), None);

    let invalid = h.probe("anthropic", Scenario::Invalid).await;
    assert_kind(&invalid, Invalid);
    assert!(invalid.message.contains("authentication_error"), "{invalid:?}");
    let restricted = h.probe("anthropic", Scenario::Restricted).await;
    assert_kind(&restricted, Restricted);
    assert!(restricted.message.contains("permission_error"), "{restricted:?}");
}

#[tokio::test]
async fn gemini_sends_the_key_in_x_goog_api_key_never_in_the_url() {
    let h = Harness::start().await;
    assert_kind(&h.probe("gemini", Scenario::Good).await, Connected);
    let req = h.only_request("gemini");
    assert_get(&req, "/v1beta/models", Some("pageSize=1"));
    assert_eq!(req.header("x-goog-api-key"), Some(key("gemini", Scenario::Good, "api_key").as_str()));

    // A bad key is a 400 with reason API_KEY_INVALID.
    let invalid = h.probe("gemini", Scenario::Invalid).await;
    assert_kind(&invalid, Invalid);
    assert!(invalid.message.contains("API_KEY_INVALID"), "{invalid:?}");
    assert!(invalid.message.contains("API key not valid"), "{invalid:?}");
    let restricted = h.probe("gemini", Scenario::Restricted).await;
    assert_kind(&restricted, Restricted);
    assert!(restricted.message.contains("API_KEY_SERVICE_BLOCKED"), "{restricted:?}");
}

#[tokio::test]
async fn groq_openrouter_and_stability_use_bearer_keys_on_their_documented_paths() {
    let h = Harness::start().await;
    for (provider, path) in
        [("groq", "/openai/v1/models"), ("openrouter", "/api/v1/key"), ("stability", "/v1/user/account")]
    {
        assert_kind(&h.probe(provider, Scenario::Good).await, Connected);
        let req = h.only_request(provider);
        assert_get(&req, path, None);
        assert_bearer(&req, provider);
    }
    let groq = h.probe("groq", Scenario::Invalid).await;
    assert_eq!(groq.message, "Groq rejected the credentials: Invalid API Key (invalid_api_key, HTTP 401).");
    let openrouter = h.probe("openrouter", Scenario::Invalid).await;
    assert_eq!(openrouter.message, "OpenRouter rejected the credentials: User not found (HTTP 401).");
}

#[tokio::test]
async fn runway_sends_its_api_version() {
    let h = Harness::start().await;
    assert_kind(&h.probe("runway", Scenario::Good).await, Connected);
    let req = h.only_request("runway");
    assert_get(&req, "/v1/organization", None);
    assert_bearer(&req, "runway");
    assert_eq!(req.header("x-runway-version"), Some("2024-11-06"));
}

#[tokio::test]
async fn exa_runs_the_smallest_search_with_x_api_key() {
    let h = Harness::start().await;
    assert_kind(&h.probe("exa", Scenario::Good).await, Connected);
    let req = h.only_request("exa");
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/search"));
    assert_eq!(req.header("x-api-key"), Some(key("exa", Scenario::Good, "api_key").as_str()));
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["numResults"], 1);
    assert!(body["query"].is_string());

    let invalid = h.probe("exa", Scenario::Invalid).await;
    assert!(invalid.message.contains("INVALID_API_KEY"), "{invalid:?}");
    // Credits exhausted: the key is fine, the account is not.
    let restricted = h.probe("exa", Scenario::Restricted).await;
    assert_kind(&restricted, Restricted);
    assert!(restricted.message.contains("NO_MORE_CREDITS"), "{restricted:?}");
}
