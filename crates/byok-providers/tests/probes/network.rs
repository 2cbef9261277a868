//! The SSRF guard and the redirect policy.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use byok_core::{ProviderSpec, SecretFields, SecretValue};
use byok_fakes::{FakeProviders, Scenario};
use byok_providers::ProbeOutcomeKind::Unavailable;
use byok_providers::{ProbeSettings, ProbeSetupError, Prober, build_catalog};

use crate::support::assert_kind;

/// An OpenAI-compatible provider at `origin`.
fn compatible(origin: &str) -> ProviderSpec {
    toml::from_str(&format!(
        r#"
        id = "compatible"
        name = "Compatible"
        category = "llm"
        fields = [{{ name = "api_key", label = "API key", secret = true, required = true }}]
        base_url = "{origin}"
        auth = {{ type = "bearer" }}
        probe = {{ path = "/v1/models" }}
        "#
    ))
    .unwrap()
}

fn secrets(key: &str) -> SecretFields {
    SecretFields::from([("api_key".to_owned(), SecretValue::new(key.to_owned()))])
}

fn prober(allow_private: bool) -> Prober {
    Prober::new(ProbeSettings { allow_private_networks: allow_private, ..ProbeSettings::default() }).unwrap()
}

#[tokio::test]
async fn loopback_origins_are_not_called_without_the_opt_in() {
    let fakes = FakeProviders::start().await.unwrap();
    let origin = fakes.base_url("openai").unwrap().to_owned();
    let port = origin.rsplit(':').next().unwrap().to_owned();
    let good = byok_fakes::fields("openai", Scenario::Good).unwrap()["api_key"].clone();
    for base in [origin.clone(), format!("http://localhost:{port}")] {
        let spec = compatible(&base);
        let outcome = prober(false).probe(&spec, &BTreeMap::new(), &secrets(&good)).await;
        assert_kind(&outcome, Unavailable);
        assert!(outcome.message.contains("BYOK_ALLOW_PRIVATE_NETWORKS"), "{outcome:?}");
    }
    assert!(fakes.requests().is_empty(), "the guard let a request through");
    let spec = compatible(&origin);
    let allowed = prober(true).probe(&spec, &BTreeMap::new(), &secrets(&good)).await;
    assert_eq!(allowed.kind, byok_providers::ProbeOutcomeKind::Connected);
}

#[test]
fn overrides_to_private_addresses_need_the_opt_in() {
    for origin in ["http://127.0.0.1:9", "http://10.1.2.3", "http://169.254.169.254", "http://[::1]:9"] {
        let settings = |allow| ProbeSettings {
            base_url_overrides: HashMap::from([("openai".to_owned(), origin.to_owned())]),
            allow_private_networks: allow,
            ..ProbeSettings::default()
        };
        assert!(matches!(Prober::new(settings(false)), Err(ProbeSetupError::PrivateOverride { .. })), "{origin}");
        assert!(Prober::new(settings(true)).is_ok(), "{origin}");
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let followed = Arc::new(AtomicUsize::new(0));
    let counter = followed.clone();
    let app = Router::new()
        .route("/v1/models", get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/elsewhere")]) }))
        .route(
            "/elsewhere",
            get(move || async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "{}"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let catalog = build_catalog(vec![compatible(&origin)]).unwrap();
    let outcome = prober(true)
        .probe(catalog.get("compatible").unwrap(), &BTreeMap::new(), &secrets("sk-compatible-0123456789"))
        .await;
    server.abort();
    assert_kind(&outcome, Unavailable);
    assert!(outcome.message.contains("HTTP 302"), "{outcome:?}");
    assert_eq!(followed.load(Ordering::SeqCst), 0);
}
