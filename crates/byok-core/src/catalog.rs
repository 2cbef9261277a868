use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::{DomainError, ProviderId, SecretFields, SecretValue};

const MAX_FIELD_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Llm,
    Media,
    Messaging,
    Email,
    Search,
    Cloud,
    Other,
}

/// One credential field of a provider, as the catalog describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub required: bool,
    /// A regular expression the whole value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// What a value looks like, for people and error messages (never a real key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

/// One provider of the catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    pub id: ProviderId,
    pub name: String,
    pub category: Category,
    pub fields: Vec<FieldSpec>,
    /// Environment variables that hold a platform credential, by field name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// A credential's submitted fields, checked against its provider and split into the
/// public configuration and the secrets to seal.
#[derive(Debug, Default)]
pub struct SplitFields {
    pub config: BTreeMap<String, String>,
    pub secrets: SecretFields,
}

struct Entry {
    spec: ProviderSpec,
    patterns: Vec<Option<Regex>>,
}

/// The provider catalog: checked once when built, then read-only.
pub struct Catalog {
    entries: Vec<Entry>,
}

impl Catalog {
    pub fn new(specs: Vec<ProviderSpec>) -> Result<Self, DomainError> {
        let mut entries: Vec<Entry> = Vec::with_capacity(specs.len());
        for spec in specs {
            if entries.iter().any(|e| e.spec.id == spec.id) {
                return Err(DomainError::invalid("catalog", format!("provider `{}` is defined twice", spec.id)));
            }
            if !spec.fields.iter().any(|f| f.secret) {
                return Err(DomainError::invalid("catalog", format!("provider `{}` has no secret field", spec.id)));
            }
            if let Some(field) = spec.env.keys().find(|f| !spec.fields.iter().any(|s| &&s.name == f)) {
                return Err(DomainError::invalid(
                    "catalog",
                    format!("provider `{}` maps unknown field `{field}` to an env var", spec.id),
                ));
            }
            let patterns = spec
                .fields
                .iter()
                .map(|f| f.pattern.as_deref().map(|p| compile(&spec.id, &f.name, p)).transpose())
                .collect::<Result<_, _>>()?;
            entries.push(Entry { spec, patterns });
        }
        Ok(Self { entries })
    }

    pub fn providers(&self) -> impl Iterator<Item = &ProviderSpec> {
        self.entries.iter().map(|e| &e.spec)
    }

    pub fn get(&self, id: &str) -> Result<&ProviderSpec, DomainError> {
        self.entry(id).map(|e| &e.spec)
    }

    fn entry(&self, id: &str) -> Result<&Entry, DomainError> {
        self.entries
            .iter()
            .find(|e| e.spec.id.as_str() == id)
            .ok_or_else(|| DomainError::UnknownProvider(echo_name(id)))
    }

    /// Checks a complete field set for `provider` and splits it. Error messages name
    /// the field and the rule, never the value.
    pub fn split_fields(
        &self,
        provider: &str,
        mut fields: BTreeMap<String, SecretValue>,
    ) -> Result<SplitFields, DomainError> {
        let entry = self.entry(provider)?;
        if let Some(unknown) = fields.keys().find(|k| !entry.spec.fields.iter().any(|f| &f.name == *k)) {
            return Err(DomainError::invalid(
                format!("fields.{}", echo_name(unknown)),
                format!("is not a field of provider `{}`", entry.spec.id),
            ));
        }
        let mut split = SplitFields::default();
        for (spec, pattern) in entry.spec.fields.iter().zip(&entry.patterns) {
            let Some(value) = fields.remove(&spec.name) else {
                if spec.required {
                    return Err(DomainError::invalid(format!("fields.{}", spec.name), "is required"));
                }
                continue;
            };
            check_value(spec, pattern.as_ref(), value.expose())?;
            if spec.secret {
                split.secrets.insert(spec.name.clone(), value);
            } else {
                split.config.insert(spec.name.clone(), value.expose().to_owned());
            }
        }
        Ok(split)
    }
}

fn compile(provider: &ProviderId, field: &str, pattern: &str) -> Result<Regex, DomainError> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|_| {
        DomainError::invalid("catalog", format!("provider `{provider}` field `{field}` has an invalid pattern"))
    })
}

fn check_value(spec: &FieldSpec, pattern: Option<&Regex>, value: &str) -> Result<(), DomainError> {
    let field = format!("fields.{}", spec.name);
    if value.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.len() > MAX_FIELD_LEN {
        return Err(DomainError::invalid(field, format!("must be at most {MAX_FIELD_LEN} bytes")));
    }
    if let Some(re) = pattern
        && !re.is_match(value)
    {
        let hint = spec.example.as_deref().map(|e| format!(" (like `{e}`)")).unwrap_or_default();
        return Err(DomainError::invalid(field, format!("does not have the expected format{hint}")));
    }
    Ok(())
}

/// A name from the caller, echoed in a message only when it looks like one of byok's
/// names (lowercase letters and `_`): a secret pasted where a name belongs must not
/// come back in the error, and secrets carry digits or mixed case.
pub fn echo_name(s: &str) -> String {
    let looks_like_name = (1..=32).contains(&s.len()) && s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    if looks_like_name { s.to_owned() } else { "(unrecognised name)".to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let spec: ProviderSpec = serde_json::from_value(serde_json::json!({
            "id": "openai", "name": "OpenAI", "category": "llm",
            "fields": [
                {"name": "api_key", "label": "API key", "secret": true, "required": true, "pattern": "sk-[A-Za-z0-9_-]{8,}", "example": "sk-..."},
                {"name": "organization", "label": "Organization"}
            ]
        }))
        .unwrap();
        Catalog::new(vec![spec]).unwrap()
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretValue> {
        pairs.iter().map(|(k, v)| (k.to_string(), SecretValue::new(v.to_string()))).collect()
    }

    #[test]
    fn splits_public_and_secret_fields() {
        let split = catalog()
            .split_fields("openai", fields(&[("api_key", "sk-abcdefgh1234"), ("organization", "org-1")]))
            .unwrap();
        assert_eq!(split.config.get("organization").map(String::as_str), Some("org-1"));
        assert_eq!(split.secrets["api_key"].expose(), "sk-abcdefgh1234");
        assert!(!split.config.contains_key("api_key"));
    }

    #[test]
    fn rejects_missing_unknown_and_malformed_without_echoing_values() {
        let c = catalog();
        assert!(
            matches!(c.split_fields("openai", fields(&[])), Err(DomainError::InvalidField { field, .. }) if field == "fields.api_key")
        );
        assert!(c.split_fields("openai", fields(&[("api_key", "sk-abcdefgh1234"), ("x", "1")])).is_err());
        let err = c.split_fields("openai", fields(&[("api_key", "nope-canary-value")])).unwrap_err();
        assert!(!err.to_string().contains("canary"));
        assert!(matches!(c.split_fields("nope", fields(&[])), Err(DomainError::UnknownProvider(_))));
        let err = c
            .split_fields("openai", fields(&[("api_key", "sk-abcdefgh1234"), ("sk-canary-0123456789", "1")]))
            .unwrap_err();
        assert!(!err.to_string().contains("canary"), "{err}");
        let err = c.split_fields("sk-canary-0123456789abcdefghijklmnopqrstuvwxyz", fields(&[])).unwrap_err();
        assert!(!err.to_string().contains("canary"), "{err}");
    }
}
