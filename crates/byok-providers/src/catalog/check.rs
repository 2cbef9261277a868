//! Checks that a provider says where it lives, where its key goes and how to test it,
//! in a way probes and the proxy can carry out. Messages name fields and rules only.

use byok_core::{AuthSpec, ProbeAdapter, ProbeSpec, ProviderSpec};
use reqwest::header::{HeaderName, HeaderValue};

use crate::origin::Origin;
use crate::template;

pub(super) fn transport(spec: &ProviderSpec) -> Result<(), String> {
    let base = spec.base_url.as_deref().ok_or("has no `base_url`")?;
    Origin::parse(base).map_err(|e| format!("`base_url` {e}"))?;
    let auth = spec.auth.as_ref().ok_or("has no `auth`")?;
    let probe = spec.probe.as_ref().ok_or("has no `probe`")?;
    check_adapter(auth, probe.adapter)?;
    check_auth(spec, auth)?;
    check_probe(spec, probe)
}

fn check_auth(spec: &ProviderSpec, auth: &AuthSpec) -> Result<(), String> {
    match auth {
        AuthSpec::Bearer { field } => secret_field(spec, field),
        AuthSpec::Header { name, field } => {
            header_name(name)?;
            secret_field(spec, field)
        }
        AuthSpec::Query { name, field } => {
            if name.is_empty() {
                return Err("`auth.name` must not be empty".into());
            }
            secret_field(spec, field)
        }
        AuthSpec::Basic { username, password } => {
            any_field(spec, username)?;
            secret_field(spec, password)
        }
        AuthSpec::AwsSigv4 => {
            any_field(spec, "access_key_id")?;
            secret_field(spec, "secret_access_key")
        }
        AuthSpec::GoogleServiceAccount => secret_field(spec, "service_account_json"),
        AuthSpec::AzureClientCredentials => {
            public_field(spec, "tenant_id")?;
            any_field(spec, "client_id")?;
            secret_field(spec, "client_secret")
        }
    }
}

fn check_probe(spec: &ProviderSpec, probe: &ProbeSpec) -> Result<(), String> {
    if !probe.path.starts_with('/') {
        return Err("`probe.path` must start with `/`".into());
    }
    for name in template::placeholders(&probe.path) {
        public_field(spec, name)?;
    }
    for (name, value) in &probe.headers {
        header_name(name)?;
        HeaderValue::from_str(value).map_err(|_| format!("`probe.headers.{name}` is not a valid header value"))?;
    }
    for (name, field) in &probe.field_headers {
        header_name(name)?;
        public_field(spec, field)?;
    }
    Ok(())
}

/// Auth that is more than a header is done by exactly one adapter, and those adapters
/// need their own auth.
fn check_adapter(auth: &AuthSpec, adapter: Option<ProbeAdapter>) -> Result<(), String> {
    let needed = match auth {
        AuthSpec::AwsSigv4 => Some(ProbeAdapter::AwsSts),
        AuthSpec::GoogleServiceAccount => Some(ProbeAdapter::GoogleServiceAccount),
        AuthSpec::AzureClientCredentials => Some(ProbeAdapter::AzureClientCredentials),
        _ => None,
    };
    let signs_itself = matches!(
        adapter,
        Some(ProbeAdapter::AwsSts | ProbeAdapter::GoogleServiceAccount | ProbeAdapter::AzureClientCredentials)
    );
    match needed {
        Some(needed) if adapter != Some(needed) => {
            Err(format!("needs `probe.adapter = \"{}\"` for its `auth`", adapter_name(needed)))
        }
        None if signs_itself => Err("`probe.adapter` does not fit its `auth`".into()),
        _ => Ok(()),
    }
}

fn adapter_name(adapter: ProbeAdapter) -> &'static str {
    match adapter {
        ProbeAdapter::AwsSts => "aws_sts",
        ProbeAdapter::GoogleServiceAccount => "google_service_account",
        ProbeAdapter::AzureClientCredentials => "azure_client_credentials",
        ProbeAdapter::TwilioPhoneNumber => "twilio_phone_number",
        ProbeAdapter::ResendFromDomain => "resend_from_domain",
    }
}

fn header_name(name: &str) -> Result<(), String> {
    HeaderName::from_bytes(name.as_bytes())
        .map(drop)
        .map_err(|_| format!("has an invalid header name `{}`", name.escape_debug()))
}

fn any_field(spec: &ProviderSpec, name: &str) -> Result<(), String> {
    spec.fields
        .iter()
        .any(|f| f.name == name)
        .then_some(())
        .ok_or_else(|| format!("refers to field `{name}`, which it does not have"))
}

fn secret_field(spec: &ProviderSpec, name: &str) -> Result<(), String> {
    any_field(spec, name)?;
    spec.fields
        .iter()
        .any(|f| f.name == name && f.secret)
        .then_some(())
        .ok_or_else(|| format!("sends field `{name}` as a key, so it must be `secret`"))
}

fn public_field(spec: &ProviderSpec, name: &str) -> Result<(), String> {
    any_field(spec, name)?;
    spec.fields
        .iter()
        .any(|f| f.name == name && !f.secret)
        .then_some(())
        .ok_or_else(|| format!("puts field `{name}` into a path or header, so it must not be `secret`"))
}
