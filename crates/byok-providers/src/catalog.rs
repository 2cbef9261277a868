//! The built-in catalog, and catalogs extended with providers from a deployment's
//! configuration. Every provider must say where it lives, where its key goes and how
//! to test it; that is checked here once, so probes and the proxy can rely on it.

mod check;

use byok_core::{Catalog, DomainError, ProviderSpec};
use serde::Deserialize;
use thiserror::Error;

const BUILTIN: &str = include_str!("catalog.toml");

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("provider catalog is not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("provider catalog is inconsistent: {0}")]
    Invalid(#[from] DomainError),
    #[error("provider `{provider}` {reason}")]
    Transport { provider: String, reason: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    providers: Vec<ProviderSpec>,
}

/// The providers byok ships with, as data.
pub fn builtin_providers() -> Result<Vec<ProviderSpec>, CatalogError> {
    let file: CatalogFile = toml::from_str(BUILTIN)?;
    Ok(file.providers)
}

/// The catalog byok ships with.
pub fn builtin_catalog() -> Result<Catalog, CatalogError> {
    build_catalog(Vec::new())
}

/// The built-in providers followed by `extra` ones, e.g. from a deployment's config
/// file (an OpenAI-compatible server needs only id, name, category, fields,
/// `base_url`, `auth` and `probe`). An id may not be defined twice.
pub fn build_catalog(extra: Vec<ProviderSpec>) -> Result<Catalog, CatalogError> {
    let mut specs = builtin_providers()?;
    specs.extend(extra);
    for spec in &specs {
        check::transport(spec).map_err(|reason| CatalogError::Transport { provider: spec.id.to_string(), reason })?;
    }
    Ok(Catalog::new(specs)?)
}

#[cfg(test)]
mod tests {
    use byok_core::{AuthSpec, ProbeAdapter, ProbeMethod};

    use super::*;

    const IDS: [&str; 13] = [
        "openai",
        "anthropic",
        "gemini",
        "groq",
        "openrouter",
        "stability",
        "runway",
        "exa",
        "twilio",
        "resend",
        "aws",
        "azure",
        "gcp",
    ];

    #[test]
    fn builtin_catalog_loads_with_every_documented_provider() {
        let catalog = builtin_catalog().unwrap();
        let ids: Vec<&str> = catalog.providers().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, IDS);
    }

    #[test]
    fn field_names_match_the_api_contract() {
        let catalog = builtin_catalog().unwrap();
        let names = |id: &str| -> Vec<(String, bool)> {
            catalog.get(id).unwrap().fields.iter().map(|f| (f.name.clone(), f.secret)).collect()
        };
        let s = |n: &str, secret: bool| (n.to_owned(), secret);
        assert_eq!(names("openai"), vec![s("api_key", true), s("organization", false), s("project", false)]);
        assert_eq!(names("twilio"), vec![s("account_sid", false), s("auth_token", true), s("phone_number", false)]);
        assert_eq!(names("resend"), vec![s("api_key", true), s("from_email", false), s("reply_to", false)]);
        assert_eq!(
            names("aws"),
            vec![
                s("access_key_id", false),
                s("secret_access_key", true),
                s("session_token", true),
                s("region", false),
                s("role_arn", false)
            ]
        );
        assert_eq!(
            names("azure"),
            vec![
                s("tenant_id", false),
                s("client_id", false),
                s("client_secret", true),
                s("endpoint", false),
                s("api_key", true)
            ]
        );
        assert_eq!(names("gcp"), vec![s("service_account_json", true), s("project_id", false), s("location", false)]);
    }

    #[test]
    fn every_builtin_provider_has_an_https_origin_auth_and_probe() {
        for spec in builtin_providers().unwrap() {
            let base = spec.base_url.as_deref().unwrap();
            assert!(base.starts_with("https://"), "{}: {base}", spec.id);
            assert!(spec.auth.is_some(), "{}", spec.id);
            assert!(spec.probe.is_some(), "{}", spec.id);
        }
    }

    #[test]
    fn catalog_data_says_what_the_providers_document() {
        let catalog = builtin_catalog().unwrap();
        let anthropic = catalog.get("anthropic").unwrap();
        assert_eq!(anthropic.auth, Some(AuthSpec::Header { name: "x-api-key".into(), field: "api_key".into() }));
        let probe = anthropic.probe.as_ref().unwrap();
        assert_eq!(probe.headers["anthropic-version"], "2023-06-01");
        let aws = catalog.get("aws").unwrap().probe.as_ref().unwrap();
        assert_eq!((aws.method, aws.adapter), (ProbeMethod::Post, Some(ProbeAdapter::AwsSts)));
        assert_eq!(
            catalog.get("twilio").unwrap().auth,
            Some(AuthSpec::Basic { username: "account_sid".into(), password: "auth_token".into() })
        );
    }

    fn spec(toml_text: &str) -> ProviderSpec {
        toml::from_str(toml_text).unwrap()
    }

    const LOCAL_LLM: &str = r#"
        id = "local-llm"
        name = "Local LLM"
        category = "llm"
        fields = [{ name = "api_key", label = "API key", secret = true, required = true }]
        base_url = "https://llm.internal.example"
        auth = { type = "bearer" }
        probe = { path = "/v1/models" }
    "#;

    #[test]
    fn a_config_defined_provider_joins_the_catalog_with_defaults() {
        let catalog = build_catalog(vec![spec(LOCAL_LLM)]).unwrap();
        let p = catalog.get("local-llm").unwrap();
        assert_eq!(p.auth, Some(AuthSpec::Bearer { field: "api_key".into() }));
        let probe = p.probe.as_ref().unwrap();
        assert_eq!(probe.method, ProbeMethod::Get);
        assert_eq!(probe.errors.invalid_status, vec![401]);
        assert_eq!(probe.errors.restricted_status, vec![403]);
        assert_eq!(catalog.providers().count(), IDS.len() + 1);
    }

    #[test]
    fn a_config_defined_provider_may_not_replace_a_builtin_one() {
        let dup = spec(&LOCAL_LLM.replace("local-llm", "openai"));
        assert!(matches!(build_catalog(vec![dup]), Err(CatalogError::Invalid(_))));
    }

    #[test]
    fn unknown_keys_in_auth_and_probe_are_refused() {
        let bad_auth =
            LOCAL_LLM.replace(r#"auth = { type = "bearer" }"#, r#"auth = { type = "bearer", feild = "api_key" }"#);
        assert!(toml::from_str::<ProviderSpec>(&bad_auth).is_err());
        let bad_probe = LOCAL_LLM
            .replace(r#"probe = { path = "/v1/models" }"#, r#"probe = { path = "/v1/models", methd = "GET" }"#);
        assert!(toml::from_str::<ProviderSpec>(&bad_probe).is_err());
        let bad_adapter = LOCAL_LLM
            .replace(r#"probe = { path = "/v1/models" }"#, r#"probe = { path = "/v1/models", adapter = "magic" }"#);
        assert!(toml::from_str::<ProviderSpec>(&bad_adapter).is_err());
    }

    #[test]
    fn transport_mistakes_are_named() {
        let cases = [
            (
                r#"base_url = "https://llm.internal.example""#,
                r#"base_url = "https://llm.internal.example/v1""#,
                "base_url",
            ),
            (r#"auth = { type = "bearer" }"#, "", "auth"),
            (r#"probe = { path = "/v1/models" }"#, r#"probe = { path = "v1/models" }"#, "path"),
            (r#"auth = { type = "bearer" }"#, r#"auth = { type = "bearer", field = "nope" }"#, "nope"),
            (r#"probe = { path = "/v1/models" }"#, r#"probe = { path = "/v1/{api_key}/models" }"#, "api_key"),
            (r#"auth = { type = "bearer" }"#, r#"auth = { type = "aws_sigv4" }"#, "adapter"),
            (
                r#"probe = { path = "/v1/models" }"#,
                r#"probe = { path = "/v1/models", headers = { "bad header" = "x" } }"#,
                "header",
            ),
        ];
        for (from, to, named) in cases {
            let err = build_catalog(vec![spec(&LOCAL_LLM.replace(from, to))])
                .err()
                .unwrap_or_else(|| panic!("{to} was accepted"));
            assert!(matches!(&err, CatalogError::Transport { provider, .. } if provider == "local-llm"), "{err}");
            assert!(err.to_string().contains(named), "{err} does not name {named}");
        }
    }

    fn proxy_allows(provider: &str, method: &str, path: &str) -> bool {
        let catalog = builtin_catalog().unwrap();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        catalog.get(provider).unwrap().proxy_allow.iter().any(|rule| rule.allows(method, &segments))
    }

    #[test]
    fn the_proxy_reaches_each_providers_product_api() {
        for (provider, method, path) in [
            ("openai", "POST", "/v1/chat/completions"),
            ("openai", "POST", "/v1/responses"),
            ("twilio", "POST", "/2010-04-01/Accounts/AC1/Messages.json"),
            ("gcp", "POST", "/v1beta1/publishers/google/models/veo-3.0-generate-001:predictLongRunning"),
            ("twilio", "DELETE", "/2010-04-01/Accounts/AC1/Messages/SM1.json"),
            ("resend", "POST", "/emails"),
            ("resend", "PATCH", "/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c"),
            ("openai", "POST", "/v1/embeddings"),
            ("openai", "GET", "/v1/models"),
            ("openai", "POST", "/v1/files"),
            ("openai", "POST", "/v1/vector_stores/vs_1/files"),
            ("anthropic", "POST", "/v1/messages"),
            ("anthropic", "POST", "/v1/messages/count_tokens"),
            ("gemini", "POST", "/v1beta/models/gemini-2.5-flash:generateContent"),
            ("gemini", "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
            ("gemini", "POST", "/v1beta/models/veo-3.0-generate-001:predictLongRunning"),
            ("gemini", "GET", "/v1beta/models/veo-3.0-generate-001/operations/op1"),
            ("groq", "POST", "/openai/v1/chat/completions"),
            ("openrouter", "POST", "/api/v1/chat/completions"),
            ("stability", "POST", "/v2beta/stable-image/generate/core"),
            ("runway", "POST", "/v1/image_to_video"),
            ("runway", "GET", "/v1/tasks/17f20503-6c24-4c16-946b-35dbbce2af2f"),
            ("exa", "POST", "/search"),
            ("twilio", "POST", "/2010-04-01/Accounts/AC123/Messages.json"),
            ("resend", "POST", "/emails"),
            ("resend", "POST", "/emails/batch"),
            ("azure", "POST", "/openai/deployments/gpt-4o-mini/chat/completions"),
            ("azure", "POST", "/openai/v1/responses"),
            ("gcp", "POST", "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent"),
            ("aws", "POST", "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"),
        ] {
            assert!(proxy_allows(provider, method, path), "{provider}: {method} {path} should be reachable");
        }
    }

    #[test]
    fn the_proxy_never_reaches_key_management_billing_or_accounts() {
        for (provider, method, path) in [
            ("openai", "POST", "/v1/organization/admin_api_keys"),
            ("openai", "GET", "/v1/organization/projects/proj_1/api_keys"),
            ("openai", "GET", "/v1/organization/costs"),
            ("openai", "POST", "/v1/realtime/client_secrets"),
            ("anthropic", "POST", "/v1/organizations/api_keys/key_1"),
            ("anthropic", "GET", "/v1/organizations/usage_report/messages"),
            ("gemini", "POST", "/v1beta/tunedModels/m1/permissions"),
            ("openrouter", "POST", "/api/v1/keys"),
            ("openrouter", "POST", "/api/v1/auth/keys"),
            ("openrouter", "GET", "/api/v1/credits"),
            ("stability", "GET", "/v1/user/balance"),
            ("runway", "GET", "/v1/organization"),
            ("twilio", "POST", "/2010-04-01/Accounts/AC123/Keys.json"),
            ("twilio", "POST", "/2010-04-01/Accounts.json"),
            ("twilio", "POST", "/2010-04-01/Accounts/AC123/IncomingPhoneNumbers.json"),
            ("twilio", "POST", "/2010-04-01/Accounts/AC123.json"),
            ("resend", "POST", "/api-keys"),
            ("resend", "POST", "/domains"),
            ("resend", "POST", "/webhooks"),
            ("exa", "POST", "/team-management/api-keys"),
            ("azure", "PUT", "/openai/deployments/gpt-4o-mini"),
            ("azure", "POST", "/openai/fine_tuning/jobs"),
            ("azure", "POST", "/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token"),
            ("gcp", "POST", "/token"),
            ("gcp", "POST", "/v1/projects/p1/locations/us-central1/endpoints"),
            ("gcp", "POST", "/v1/projects/p1/locations/us-central1/tuningJobs"),
            ("aws", "POST", "/"),
            ("aws", "GET", "/foundation-models"),
            ("aws", "POST", "/guardrails"),
        ] {
            assert!(!proxy_allows(provider, method, path), "{provider}: {method} {path} must be refused");
        }
    }

    #[test]
    fn polls_are_reachable_reads_and_creating_work_is_no_poll() {
        let catalog = builtin_catalog().unwrap();
        let is_poll = |provider: &str, method: &str, path: &str| {
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            catalog.get(provider).unwrap().proxy_polls.iter().any(|rule| rule.allows(method, &segments))
        };
        assert!(is_poll("runway", "GET", "/v1/tasks/17f20503-6c24-4c16-946b-35dbbce2af2f"));
        assert!(is_poll("stability", "GET", "/v2beta/results/a6dc6c6e20acda010fe14d71f180658f"));
        assert!(is_poll("gemini", "GET", "/v1beta/models/veo-3.0-generate-001/operations/op1"));
        assert!(is_poll("twilio", "GET", "/2010-04-01/Accounts/AC1/Messages/SM1.json"));
        assert!(is_poll(
            "gcp",
            "POST",
            "/v1beta1/projects/p1/locations/us-central1/publishers/google/models/veo-3.0-generate-001:fetchPredictOperation"
        ));
        assert!(is_poll("twilio", "GET", "/2010-04-01/Accounts/AC1/Messages.json"));
        assert!(is_poll("resend", "GET", "/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c"));
        for (provider, method, path) in [
            ("runway", "POST", "/v1/image_to_video"),
            ("runway", "DELETE", "/v1/tasks/t1"),
            ("stability", "POST", "/v2beta/stable-image/generate/core"),
            ("gemini", "POST", "/v1beta/models/veo-3.0-generate-001:predictLongRunning"),
            ("openai", "POST", "/v1/responses"),
            ("twilio", "POST", "/2010-04-01/Accounts/AC1/Messages.json"),
            ("gcp", "POST", "/v1beta1/publishers/google/models/veo-3.0-generate-001:predictLongRunning"),
            ("twilio", "DELETE", "/2010-04-01/Accounts/AC1/Messages/SM1.json"),
            ("resend", "POST", "/emails"),
            ("resend", "PATCH", "/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c"),
        ] {
            assert!(!is_poll(provider, method, path), "{provider}: {method} {path} is a use");
        }
        for spec in catalog.providers() {
            for rule in &spec.proxy_polls {
                let (methods, path) = rule.as_str().split_once(' ').unwrap();
                // Reads only: GET, or the POST of Vertex's fetchPredictOperation.
                let read = methods == "GET" || (methods == "POST" && path.ends_with(":fetchPredictOperation"));
                assert!(read, "{}: a poll only reads ({})", spec.id, rule.as_str());
                let example = path.replace("v1*", "v1beta").replace('*', "x");
                assert!(
                    proxy_allows(spec.id.as_str(), methods, &example),
                    "{}: poll {} is not reachable",
                    spec.id,
                    rule.as_str()
                );
            }
        }
    }
}
