//! The origin of an owner's own resource at a provider (an Azure OpenAI resource), from
//! the paying credential's public fields: https only, and only a host the catalog's
//! patterns allow, so a credential can point the proxy nowhere else.

use std::collections::BTreeMap;

use byok_core::ProviderSpec;

use super::InjectError;
use crate::origin::Origin;
use crate::template;

/// The origin `spec.proxy_origin` names for a credential with public fields `config`,
/// or `None` when the provider has none (requests go to its base URL).
pub fn resource_origin(spec: &ProviderSpec, config: &BTreeMap<String, String>) -> Result<Option<String>, InjectError> {
    let Some(resource) = &spec.proxy_origin else {
        return Ok(None);
    };
    let value = |name: &str| config.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    // A template that is one whole field takes the field's value as it is (a URL);
    // placeholders inside a template are filled as URL segments.
    let filled = match resource.template.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        Some(field) if !field.contains(['{', '}']) => {
            value(field).map(str::to_owned).ok_or_else(|| InjectError::MissingField(field.to_owned()))?
        }
        _ => template::fill(&resource.template, value).map_err(|name| InjectError::MissingField(name.to_owned()))?,
    };
    let not_allowed = || InjectError::Origin(format!("{} (allowed: {})", filled, resource.hosts.join(", ")));
    let origin = Origin::parse(&filled).map_err(|_| not_allowed())?;
    if !origin.is_https() || !origin.host().is_some_and(|host| resource.hosts.iter().any(|p| host_matches(p, host))) {
        return Err(not_allowed());
    }
    Ok(Some(origin.as_string()))
}

/// `*.openai.azure.com` matches any name ending in `.openai.azure.com` (one or more
/// labels before it); any other pattern matches itself. Case-insensitive.
fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    match pattern.strip_prefix('*') {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(&suffix.to_ascii_lowercase()),
        None => host == pattern.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(endpoint: &str) -> Result<Option<String>, InjectError> {
        let catalog = crate::builtin_catalog().unwrap();
        let config = [("endpoint".to_owned(), endpoint.to_owned())].into();
        resource_origin(catalog.get("azure").unwrap(), &config)
    }

    #[test]
    fn an_azure_resource_is_its_endpoint() {
        assert_eq!(
            origin("https://acme-east.openai.azure.com/").unwrap().as_deref(),
            Some("https://acme-east.openai.azure.com")
        );
        assert_eq!(
            origin(" https://acme.cognitiveservices.azure.com ").unwrap().as_deref(),
            Some("https://acme.cognitiveservices.azure.com")
        );
    }

    #[test]
    fn endpoints_elsewhere_are_refused() {
        for endpoint in [
            "http://acme.openai.azure.com",
            "https://openai.azure.com",
            "https://.openai.azure.com",
            "https://acme.openai.azure.com.evil.example",
            "https://evil.example/acme.openai.azure.com",
            "https://127.0.0.1",
            "https://acme.openai.azure.com/openai/deployments",
            "https://user:pw@acme.openai.azure.com",
        ] {
            assert!(matches!(origin(endpoint), Err(InjectError::Origin(_))), "{endpoint}");
        }
        let catalog = crate::builtin_catalog().unwrap();
        assert!(matches!(
            resource_origin(catalog.get("azure").unwrap(), &BTreeMap::new()),
            Err(InjectError::MissingField(f)) if f == "endpoint"
        ));
        assert_eq!(resource_origin(catalog.get("openai").unwrap(), &BTreeMap::new()).unwrap(), None);
    }
}
