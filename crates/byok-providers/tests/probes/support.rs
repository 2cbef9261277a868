//! A prober pointed at the fakes, and checks every test wants.

use std::collections::BTreeMap;
use std::time::Duration;

use byok_core::{Catalog, SecretValue};
use byok_fakes::{FakeProviders, RecordedRequest, Scenario, fields};
use byok_providers::{MintFailure, ProbeOutcome, ProbeOutcomeKind, ProbeSettings, Prober, ShortLived, builtin_catalog};

pub struct Harness {
    pub fakes: FakeProviders,
    pub prober: Prober,
    pub catalog: Catalog,
}

impl Harness {
    /// The fakes, and a prober that reaches them with a generous timeout.
    pub async fn start() -> Self {
        Self::with_timeout(Duration::from_secs(10)).await
    }

    pub async fn with_timeout(total_timeout: Duration) -> Self {
        let fakes = FakeProviders::start().await.unwrap();
        let prober = Prober::new(ProbeSettings {
            base_url_overrides: fakes.base_urls(),
            allow_private_networks: true,
            connect_timeout: Duration::from_secs(2),
            total_timeout,
            ..ProbeSettings::default()
        })
        .unwrap();
        Self { fakes, prober, catalog: builtin_catalog().unwrap() }
    }

    /// Probes `provider` with the fields that act out `scenario`.
    pub async fn probe(&self, provider: &str, scenario: Scenario) -> ProbeOutcome {
        let fields = fields(provider, scenario).unwrap_or_else(|| panic!("{scenario:?} does not apply to {provider}"));
        self.probe_fields(provider, fields).await
    }

    /// Probes `provider` with `fields` as the API would take them, and checks that
    /// the message repeats none of the secret values.
    pub async fn probe_fields(&self, provider: &str, fields: BTreeMap<String, String>) -> ProbeOutcome {
        let submitted = fields.into_iter().map(|(k, v)| (k, SecretValue::new(v))).collect();
        let split = self.catalog.split_fields(provider, submitted).unwrap();
        let spec = self.catalog.get(provider).unwrap();
        let outcome = self.prober.probe(spec, &split.config, &split.secrets).await;
        for secret in split.secrets.values() {
            assert_no_secret(&outcome, secret.expose());
        }
        outcome
    }

    /// Mints a short-lived credential from `fields` of `provider`.
    pub async fn mint(
        &self,
        provider: &str,
        fields: BTreeMap<String, String>,
        scope: Option<&str>,
    ) -> Result<ShortLived, MintFailure> {
        let submitted = fields.into_iter().map(|(k, v)| (k, SecretValue::new(v))).collect();
        let split = self.catalog.split_fields(provider, submitted).unwrap();
        let minted = self.prober.mint(self.catalog.get(provider).unwrap(), &split.config, &split.secrets, scope).await;
        if let Err(failure) = &minted {
            for secret in split.secrets.values() {
                assert!(!failure.message.contains(secret.expose()), "a secret in {failure:?}");
            }
        }
        minted
    }

    /// The requests the fake for `provider` received.
    pub fn sent(&self, provider: &str) -> Vec<RecordedRequest> {
        self.fakes.requests_to(provider)
    }

    /// The one request the fake for `provider` received.
    pub fn only_request(&self, provider: &str) -> RecordedRequest {
        let sent = self.sent(provider);
        assert_eq!(sent.len(), 1, "{provider}: {sent:#?}");
        sent.into_iter().next().unwrap()
    }
}

/// The message must contain neither the secret, nor a long piece of it (an echoed
/// key, a key file's private key), nor masking stars. A key file's field names may be
/// named, so for JSON secrets the pieces come from its values.
pub fn assert_no_secret(outcome: &ProbeOutcome, secret: &str) {
    let message = &outcome.message;
    assert!(!message.contains(secret), "secret in message: {message}");
    let values: Vec<String> = match serde_json::from_str::<serde_json::Value>(secret) {
        Ok(serde_json::Value::Object(file)) => file.values().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => vec![secret.to_owned()],
    };
    for value in values {
        let chars: Vec<char> = value.chars().collect();
        for window in chars.windows(12) {
            let piece: String = window.iter().collect();
            assert!(!message.contains(&piece), "part of a secret in: {message}");
        }
    }
    assert!(!message.contains("****"), "masked key in: {message}");
}

pub fn assert_kind(outcome: &ProbeOutcome, kind: ProbeOutcomeKind) {
    assert_eq!(outcome.kind, kind, "{outcome:?}");
}

pub fn key(provider: &str, scenario: Scenario, field: &str) -> String {
    fields(provider, scenario).unwrap()[field].clone()
}
