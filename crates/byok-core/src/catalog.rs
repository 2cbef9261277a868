use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::{DomainError, PathRule, ProviderId, SecretFields, SecretValue};

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
    /// The provider's origin (`scheme://host[:port]`, no path): probes and the proxy
    /// append the provider's own paths to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Where the credential goes in a request to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,
    /// The cheapest read-only call that proves a credential works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeSpec>,
    /// How the provider's API speaks, for the proxy.
    #[serde(default, skip_serializing_if = "Dialect::is_generic")]
    pub dialect: Dialect,
    /// The requests the proxy forwards for an owner: the API surface a product uses on
    /// its users' behalf. Anything else (key management, billing, account and
    /// organization administration) is refused; an empty list refuses everything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_allow: Vec<PathRule>,
    /// Of those, the requests that check on work already paid for (polling a generation
    /// task): forwarded with the owner's credential, but they take no unit and count no
    /// use, of the virtual key or of the credential.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_polls: Vec<PathRule>,
    /// Where the proxy sends an owner's requests when that is the owner's own resource
    /// rather than `base_url` (an Azure OpenAI resource): built from the paying
    /// credential's public fields. An operator's base-URL override takes precedence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_origin: Option<ProxyOrigin>,
}

/// The origin of an owner's own resource at a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyOrigin {
    /// The origin with `{field}` placeholders for the credential's public fields.
    pub template: String,
    /// Host patterns the origin must match (`*.openai.azure.com`: any name ending in
    /// `.openai.azure.com`), so a credential can send the proxy nowhere else; https only.
    pub hosts: Vec<String>,
}

/// How a provider's HTTP API speaks, as far as the proxy cares: the shape of its error
/// answers (so byok's own refusals raise an SDK's usual error type), and whether
/// streamed requests can ask for a final usage report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// OpenAI and OpenAI-compatible APIs: `{"error": {"message", "type", "code"}}`,
    /// `stream_options.include_usage`.
    Openai,
    /// `{"type": "error", "error": {"type", "message"}}`.
    Anthropic,
    /// google.rpc status: `{"error": {"code", "message", "status"}}`.
    Gemini,
    /// Runway: `{"error": "…"}`.
    Runway,
    /// Stability AI: `{"id", "name", "errors": ["…"]}`.
    Stability,
    /// Exa: `{"requestId", "error", "tag"}`.
    Exa,
    /// Twilio's REST API: `{"code", "message", "more_info", "status"}` errors, the
    /// account SID in the path (`/2010-04-01/Accounts/{AccountSid}/…`), form bodies;
    /// the credential's `phone_number` is a message's default sender.
    Twilio,
    /// Resend: `{"statusCode", "name", "message"}` errors; the credential's
    /// `from_email` is an email's default sender.
    Resend,
    /// Anything else: byok's own JSON error shape.
    #[default]
    Generic,
}

impl Dialect {
    pub fn is_generic(&self) -> bool {
        *self == Dialect::Generic
    }
}

/// Where a credential goes in a request to its provider. The generic kinds name the
/// credential fields they read; the others are done by code (an adapter per kind),
/// because they need more than copying a field into a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthSpec {
    /// `Authorization: Bearer <field>`.
    Bearer {
        #[serde(default = "default_key_field")]
        field: String,
    },
    /// `<name>: <field>`, e.g. `x-api-key`.
    Header {
        name: String,
        #[serde(default = "default_key_field")]
        field: String,
    },
    /// `?<name>=<field>` in the query string.
    Query {
        name: String,
        #[serde(default = "default_key_field")]
        field: String,
    },
    /// HTTP basic authentication with two fields as user name and password.
    Basic { username: String, password: String },
    /// AWS Signature Version 4 from `access_key_id`, `secret_access_key` and the
    /// optional `session_token`.
    AwsSigv4,
    /// A bearer token minted from a Google service-account key file.
    GoogleServiceAccount,
    /// A bearer token from Microsoft Entra ID client credentials.
    AzureClientCredentials,
}

fn default_key_field() -> String {
    "api_key".to_owned()
}

/// The HTTP method of a probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProbeMethod {
    #[default]
    Get,
    Post,
}

/// A provider's connection test: one request to its origin, read with `errors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    #[serde(default)]
    pub method: ProbeMethod,
    /// Path and optional query appended to the origin. `{field}` stands for the value
    /// of that public field, percent-encoded.
    pub path: String,
    /// Fixed headers, e.g. an API version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Headers sent only when a public field is set: header name to field name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub field_headers: BTreeMap<String, String>,
    /// A JSON body, for providers whose cheapest call is a `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_body: Option<serde_json::Value>,
    /// How to read the provider's error answers.
    #[serde(default)]
    pub errors: ProbeErrors,
    /// Code that does what data cannot: signing, token grants, extra checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<ProbeAdapter>,
}

/// How a provider's error answers map to probe outcomes. Codes and messages are read
/// from the JSON body at the given JSON pointers; rules on codes and messages win
/// over rules on statuses. Answers no rule names count as "provider unavailable", so a
/// surprise never marks a working credential invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeErrors {
    /// JSON pointers to the provider's machine-readable error code, tried in order.
    #[serde(default)]
    pub code: Vec<String>,
    /// JSON pointers to the provider's human-readable error message, tried in order.
    #[serde(default)]
    pub message: Vec<String>,
    #[serde(default = "default_invalid_status")]
    pub invalid_status: Vec<u16>,
    #[serde(default = "default_restricted_status")]
    pub restricted_status: Vec<u16>,
    #[serde(default)]
    pub invalid_codes: Vec<String>,
    #[serde(default)]
    pub restricted_codes: Vec<String>,
    /// Case-insensitive fragments of the message that mean "invalid".
    #[serde(default)]
    pub invalid_messages: Vec<String>,
    /// Case-insensitive fragments of the message that mean "valid but restricted".
    #[serde(default)]
    pub restricted_messages: Vec<String>,
}

fn default_invalid_status() -> Vec<u16> {
    vec![401]
}

fn default_restricted_status() -> Vec<u16> {
    vec![403]
}

impl Default for ProbeErrors {
    fn default() -> Self {
        Self {
            code: Vec::new(),
            message: Vec::new(),
            invalid_status: default_invalid_status(),
            restricted_status: default_restricted_status(),
            invalid_codes: Vec::new(),
            restricted_codes: Vec::new(),
            invalid_messages: Vec::new(),
            restricted_messages: Vec::new(),
        }
    }
}

/// Probes done by code rather than data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeAdapter {
    /// STS `GetSessionToken` (or `AssumeRole`), signed with SigV4: a short-lived session.
    AwsSts,
    /// The OAuth JWT-bearer grant with a service-account key.
    GoogleServiceAccount,
    /// The OAuth client-credentials grant at Microsoft Entra ID.
    AzureClientCredentials,
    /// The account request, then whether the configured number can send SMS.
    TwilioPhoneNumber,
    /// The domains request, then whether the from-address domain is verified.
    ResendFromDomain,
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

    /// Replaces what the proxy forwards for `provider` (the operator's narrower or wider
    /// list from the config file).
    pub fn set_proxy_allow(&mut self, provider: &str, rules: Vec<PathRule>) -> Result<(), DomainError> {
        let entry = self
            .entries
            .iter_mut()
            .find(|e| e.spec.id.as_str() == provider)
            .ok_or_else(|| DomainError::UnknownProvider(echo_name(provider)))?;
        entry.spec.proxy_allow = rules;
        Ok(())
    }

    /// Replaces which forwarded requests of `provider` are polls that count no use (the
    /// operator's list from the config file).
    pub fn set_proxy_polls(&mut self, provider: &str, rules: Vec<PathRule>) -> Result<(), DomainError> {
        let entry = self
            .entries
            .iter_mut()
            .find(|e| e.spec.id.as_str() == provider)
            .ok_or_else(|| DomainError::UnknownProvider(echo_name(provider)))?;
        entry.spec.proxy_polls = rules;
        Ok(())
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
