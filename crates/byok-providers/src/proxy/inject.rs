//! The owner's real key, put where the catalog's `auth` says the provider expects it.

use std::collections::BTreeMap;

use base64::Engine;
use byok_core::{AuthSpec, ProviderSpec, SecretFields};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum InjectError {
    /// The provider names no authentication.
    #[error("the catalog does not say how {0}'s credential authenticates a request")]
    NotProxyable(String),
    #[error("the credential has no `{0}`")]
    MissingField(String),
    #[error("the credential's `{0}` cannot be sent in an HTTP header")]
    BadValue(String),
    /// The credential names a resource the proxy may not send requests to.
    #[error("the credential's endpoint is not one byok sends requests to: {0}")]
    Origin(String),
}

/// Puts the credential (`config` and `secrets`) into `headers` or `url`. Header values
/// made from secrets are marked sensitive. The provider's `probe.field_headers` (such
/// as OpenAI's organization and project) are set from public fields too. `token` is an
/// access token minted from the credential, for Azure without an `api_key` (see
/// [`needs_token`]).
pub fn inject_auth(
    spec: &ProviderSpec,
    config: &BTreeMap<String, String>,
    secrets: &SecretFields,
    token: Option<&str>,
    headers: &mut HeaderMap,
    url: &mut Url,
) -> Result<(), InjectError> {
    let value = |field: &str| -> Result<&str, InjectError> {
        secrets
            .get(field)
            .map(|s| s.expose())
            .or_else(|| config.get(field).map(String::as_str))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| InjectError::MissingField(field.to_owned()))
    };
    match spec.auth.as_ref() {
        Some(AuthSpec::Bearer { field }) => {
            headers.insert(AUTHORIZATION, sensitive(&format!("Bearer {}", value(field)?), field)?);
        }
        Some(AuthSpec::Header { name, field }) => {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| InjectError::BadValue(name.clone()))?;
            headers.insert(name, sensitive(value(field)?, field)?);
        }
        Some(AuthSpec::Query { name, field }) => {
            url.query_pairs_mut().append_pair(name, value(field)?);
        }
        Some(AuthSpec::Basic { username, password }) => {
            let pair = format!("{}:{}", value(username)?, value(password)?);
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            headers.insert(AUTHORIZATION, sensitive(&format!("Basic {encoded}"), password)?);
        }
        // Azure OpenAI takes the resource's key, or else a Microsoft Entra token.
        Some(AuthSpec::AzureClientCredentials) => match (value(AZURE_KEY), token) {
            (Ok(key), _) => {
                headers.insert(HeaderName::from_static("api-key"), sensitive(key, AZURE_KEY)?);
            }
            (Err(_), Some(token)) => {
                headers.insert(AUTHORIZATION, sensitive(&format!("Bearer {token}"), "access_token")?);
            }
            (Err(missing), None) => return Err(missing),
        },
        // Vertex AI takes an OAuth access token minted from the service account's key.
        Some(AuthSpec::GoogleServiceAccount) => {
            let token = token.ok_or_else(|| InjectError::MissingField("access_token".into()))?;
            headers.insert(AUTHORIZATION, sensitive(&format!("Bearer {token}"), "access_token")?);
        }
        // Signed once the request is final (see `sign_aws`).
        Some(AuthSpec::AwsSigv4) => {}
        None => return Err(InjectError::NotProxyable(spec.name.clone())),
    }
    if let Some(probe) = &spec.probe {
        for (header, field) in &probe.field_headers {
            if let (Ok(name), Some(v)) = (HeaderName::from_bytes(header.as_bytes()), config.get(field)) {
                let v = HeaderValue::from_str(v).map_err(|_| InjectError::BadValue(field.clone()))?;
                headers.insert(name, v);
            }
        }
    }
    Ok(())
}

/// The Azure OpenAI resource key's field: optional, a minted Entra token stands in.
const AZURE_KEY: &str = "api_key";

/// Whether the proxy can put this provider's key into a request.
pub fn proxyable(spec: &ProviderSpec) -> bool {
    matches!(
        spec.auth,
        Some(
            AuthSpec::Bearer { .. }
                | AuthSpec::Header { .. }
                | AuthSpec::Query { .. }
                | AuthSpec::Basic { .. }
                | AuthSpec::AzureClientCredentials
                | AuthSpec::GoogleServiceAccount
                | AuthSpec::AwsSigv4
        )
    )
}

/// Whether a request with this credential needs an access token minted from it (Google
/// Cloud; Azure without a resource key).
pub fn needs_token(spec: &ProviderSpec, secrets: &SecretFields) -> bool {
    match spec.auth {
        Some(AuthSpec::GoogleServiceAccount) => true,
        Some(AuthSpec::AzureClientCredentials) => {
            secrets.get(AZURE_KEY).is_none_or(|key| key.expose().trim().is_empty())
        }
        _ => false,
    }
}

fn sensitive(value: &str, field: &str) -> Result<HeaderValue, InjectError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| InjectError::BadValue(field.to_owned()))?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use byok_core::SecretValue;

    use super::*;

    fn inject(provider: &str, config: &[(&str, &str)], secrets: &[(&str, &str)]) -> (HeaderMap, Url) {
        let catalog = crate::builtin_catalog().unwrap();
        let config = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let secrets = secrets.iter().map(|(k, v)| (k.to_string(), SecretValue::new(v.to_string()))).collect();
        let mut headers = HeaderMap::new();
        let mut url = Url::parse("https://example.test/v1/x?a=1").unwrap();
        inject_auth(catalog.get(provider).unwrap(), &config, &secrets, None, &mut headers, &mut url).unwrap();
        (headers, url)
    }

    #[test]
    fn keys_go_where_each_provider_expects_them() {
        let (h, _) = inject("openai", &[("organization", "org-1")], &[("api_key", "sk-real")]);
        assert_eq!(h["authorization"], "Bearer sk-real");
        assert!(h["authorization"].is_sensitive());
        assert_eq!(h["openai-organization"], "org-1");
        let (h, _) = inject("anthropic", &[], &[("api_key", "sk-ant-real")]);
        assert_eq!(h["x-api-key"], "sk-ant-real");
        let (h, _) = inject("gemini", &[], &[("api_key", "AIzaReal")]);
        assert_eq!(h["x-goog-api-key"], "AIzaReal");
        let (h, _) = inject("twilio", &[("account_sid", "AC1")], &[("auth_token", "tok")]);
        assert_eq!(h["authorization"], "Basic QUMxOnRvaw==");
    }

    #[test]
    fn every_builtin_provider_is_proxyable() {
        let catalog = crate::builtin_catalog().unwrap();
        assert!(catalog.providers().all(proxyable));
        let (h, _) = inject("aws", &[("access_key_id", "AKIA1")], &[("secret_access_key", "s")]);
        assert!(h.is_empty(), "AWS requests are signed once final, not here");
    }

    #[test]
    fn azure_takes_the_resource_key_or_an_entra_token() {
        let catalog = crate::builtin_catalog().unwrap();
        let azure = catalog.get("azure").unwrap();
        assert!(proxyable(azure));
        let (h, _) = inject("azure", &[], &[("api_key", "azure-resource-key"), ("client_secret", "s")]);
        assert_eq!(h["api-key"], "azure-resource-key");
        assert!(h["api-key"].is_sensitive() && !h.contains_key("authorization"));
        let secrets: SecretFields = [("client_secret".to_owned(), SecretValue::new("s".into()))].into();
        assert!(needs_token(azure, &secrets));
        let mut headers = HeaderMap::new();
        let mut url = Url::parse("https://example.test/").unwrap();
        inject_auth(azure, &BTreeMap::new(), &secrets, Some("eyJ.entra"), &mut headers, &mut url).unwrap();
        assert_eq!(headers["authorization"], "Bearer eyJ.entra");
        let missing = inject_auth(azure, &BTreeMap::new(), &secrets, None, &mut HeaderMap::new(), &mut url);
        assert_eq!(missing, Err(InjectError::MissingField("api_key".into())));
    }
}
