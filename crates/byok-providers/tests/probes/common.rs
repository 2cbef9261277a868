//! What every built-in provider must do: accept a good credential, reject a bad one,
//! and never call a failing, throttling or silent provider's credential invalid.

use std::time::Duration;

use byok_fakes::{PROVIDERS, Scenario};
use byok_providers::ProbeOutcomeKind::{Connected, Invalid, Unavailable};

use crate::support::{Harness, assert_kind};

#[tokio::test]
async fn every_provider_classifies_good_bad_failing_and_throttled_credentials() {
    let h = Harness::start().await;
    for provider in PROVIDERS {
        for (scenario, kind) in [
            (Scenario::Good, Connected),
            (Scenario::Invalid, Invalid),
            (Scenario::ServerError, Unavailable),
            (Scenario::RateLimited, Unavailable),
        ] {
            let outcome = h.probe(provider, scenario).await;
            assert_eq!(outcome.kind, kind, "{provider} {scenario:?}: {outcome:?}");
            assert!(
                outcome.message.contains(h.catalog.get(provider).unwrap().name.as_str()),
                "{provider}: the message names the provider: {}",
                outcome.message
            );
        }
        assert!(!h.sent(provider).is_empty(), "{provider} was never called");
    }
}

#[tokio::test]
async fn every_provider_that_hangs_is_unavailable_within_the_timeout() {
    let limit = Duration::from_millis(500);
    let h = Harness::with_timeout(limit).await;
    let mut runs = Vec::new();
    for provider in PROVIDERS {
        let fields = byok_fakes::fields(provider, Scenario::Hang).unwrap();
        let spec = h.catalog.get(provider).unwrap().clone();
        let split = h
            .catalog
            .split_fields(provider, fields.into_iter().map(|(k, v)| (k, byok_core::SecretValue::new(v))).collect())
            .unwrap();
        let prober = h.prober.clone();
        runs.push((provider, tokio::spawn(async move { prober.probe(&spec, &split.config, &split.secrets).await })));
    }
    for (provider, run) in runs {
        let outcome = run.await.unwrap();
        assert_kind(&outcome, Unavailable);
        assert!(outcome.latency_ms >= 450 && outcome.latency_ms < 3000, "{provider}: {outcome:?}");
        assert!(outcome.message.contains("did not answer"), "{outcome:?}");
        assert!(!h.sent(provider).is_empty(), "{provider} was never called");
    }
}

#[tokio::test]
async fn outcomes_report_their_latency() {
    let h = Harness::start().await;
    let outcome = h.probe("openai", Scenario::Good).await;
    assert!(outcome.latency_ms < 10_000);
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(json["kind"], "connected");
}
