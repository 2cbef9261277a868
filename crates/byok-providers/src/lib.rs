//! The built-in provider catalog, kept as data in `catalog.toml` and embedded in the
//! binary.

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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    providers: Vec<ProviderSpec>,
}

/// The catalog byok ships with.
pub fn builtin_catalog() -> Result<Catalog, CatalogError> {
    let file: CatalogFile = toml::from_str(BUILTIN)?;
    Ok(Catalog::new(file.providers)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_loads_with_every_documented_provider() {
        let catalog = builtin_catalog().unwrap();
        let ids: Vec<&str> = catalog.providers().map(|p| p.id.as_str()).collect();
        let expected = [
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
        assert_eq!(ids, expected);
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
        assert_eq!(names("resend"), vec![s("api_key", true), s("from_email", false)]);
        assert_eq!(
            names("aws"),
            vec![s("access_key_id", false), s("secret_access_key", true), s("session_token", true), s("region", false)]
        );
        assert_eq!(names("azure"), vec![s("tenant_id", false), s("client_id", false), s("client_secret", true)]);
        assert_eq!(names("gcp"), vec![s("service_account_json", true)]);
    }
}
