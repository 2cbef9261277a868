//! Platform credentials that come from environment variables (and a `.env` file),
//! as the products byok replaces read them: `OPENAI_API_KEY`, `TWILIO_ACCOUNT_SID` …

use std::collections::BTreeMap;

use crate::{Catalog, DomainError, ProviderId, SecretFields, SecretValue, secret_hint};

/// One provider's platform credential assembled from environment variables.
#[derive(Debug)]
pub struct EnvCredential {
    pub provider: ProviderId,
    pub config: BTreeMap<String, String>,
    pub secrets: SecretFields,
    /// The variables it was read from.
    pub variables: Vec<String>,
}

impl EnvCredential {
    pub fn hints(&self) -> BTreeMap<String, String> {
        self.secrets.iter().map(|(k, v)| (k.clone(), secret_hint(v.expose()))).collect()
    }
}

/// What reading the environment found: usable credentials and, per provider, why a
/// partial or malformed set was ignored (naming variables, never values).
#[derive(Debug, Default)]
pub struct PlatformEnv {
    pub credentials: Vec<EnvCredential>,
    pub ignored: Vec<(ProviderId, DomainError)>,
}

impl PlatformEnv {
    /// Reads every catalog provider's variables through `lookup`.
    pub fn read(catalog: &Catalog, lookup: &dyn Fn(&str) -> Option<String>) -> PlatformEnv {
        let mut found = PlatformEnv::default();
        for spec in catalog.providers() {
            let mut fields = BTreeMap::new();
            let mut variables = Vec::new();
            for (field, var) in &spec.env {
                if let Some(value) = lookup(var).filter(|v| !v.trim().is_empty()) {
                    fields.insert(field.clone(), SecretValue::new(value));
                    variables.push(var.clone());
                }
            }
            let has_secret = spec.fields.iter().any(|f| f.secret && fields.contains_key(&f.name));
            if !has_secret {
                continue;
            }
            match catalog.split_fields(spec.id.as_str(), fields) {
                Ok(split) => found.credentials.push(EnvCredential {
                    provider: spec.id.clone(),
                    config: split.config,
                    secrets: split.secrets,
                    variables,
                }),
                Err(e) => found.ignored.push((spec.id.clone(), e)),
            }
        }
        found
    }

    pub fn get(&self, provider: &ProviderId) -> Option<&EnvCredential> {
        self.credentials.iter().find(|c| &c.provider == provider)
    }
}
