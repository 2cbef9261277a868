//! A provider defined only in a deployment's TOML config is probed like a built-in one.

use byok_core::ProviderSpec;
use byok_fakes::Scenario;
use byok_providers::ProbeOutcomeKind::{Connected, Invalid};
use byok_providers::build_catalog;

use crate::support::{Harness, assert_kind};

#[tokio::test]
async fn an_openai_compatible_provider_from_toml_gets_probed() {
    let h = Harness::start().await;
    // Served by the OpenAI fake: an OpenAI-compatible server at another origin.
    let origin = h.fakes.base_url("openai").unwrap();
    let spec: ProviderSpec = toml::from_str(&format!(
        r#"
        id = "local-llm"
        name = "Local LLM"
        category = "llm"
        fields = [{{ name = "api_key", label = "API key", secret = true, required = true }}]
        base_url = "{origin}"
        auth = {{ type = "bearer" }}

        [probe]
        path = "/v1/models"

        [probe.errors]
        code = ["/error/code"]
        message = ["/error/message"]
        "#
    ))
    .unwrap();
    let mut h = h;
    h.catalog = build_catalog(vec![spec]).unwrap();

    let good = byok_fakes::fields("openai", Scenario::Good).unwrap();
    let outcome = h.probe_fields("local-llm", good.clone()).await;
    assert_kind(&outcome, Connected);
    assert_eq!(outcome.message, "Local LLM accepted the credentials.");
    let req = h.only_request("openai");
    assert_eq!(req.path, "/v1/models");
    assert_eq!(req.header("authorization"), Some(format!("Bearer {}", good["api_key"]).as_str()));

    let bad = byok_fakes::fields("openai", Scenario::Invalid).unwrap();
    let outcome = h.probe_fields("local-llm", bad).await;
    assert_kind(&outcome, Invalid);
    assert!(outcome.message.contains("invalid_api_key"), "{outcome:?}");
}
