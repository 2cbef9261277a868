//! How probes reach providers: base-URL overrides, the private-network opt-in and
//! timeouts, as `BYOK_PROVIDER_<ID>_BASE_URL` and `BYOK_ALLOW_PRIVATE_NETWORKS` set them.

use std::collections::HashMap;
use std::time::Duration;

use byok_core::Catalog;
use thiserror::Error;

const ALLOW_PRIVATE_NETWORKS: &str = "BYOK_ALLOW_PRIVATE_NETWORKS";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSettings {
    /// Provider id to origin (`scheme://host[:port]`, no path), replacing the
    /// catalog's `base_url` for probes and the proxy.
    pub base_url_overrides: HashMap<String, String>,
    /// Allow outbound calls to loopback, private, link-local and other local
    /// addresses. Off by default: a base URL must not become a way into the network
    /// byok runs in.
    pub allow_private_networks: bool,
    pub connect_timeout: Duration,
    /// The bound on one whole probe, every request of it included.
    pub total_timeout: Duration,
    /// The proxy's bound on waiting for the next bytes from a provider (the answer's
    /// head, or the next chunk of a stream); a whole answer has no bound.
    pub proxy_read_timeout: Duration,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            base_url_overrides: HashMap::new(),
            allow_private_networks: false,
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
            proxy_read_timeout: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Error)]
pub enum ProbeSetupError {
    #[error("the base URL override for provider `{provider}` {reason}")]
    InvalidOverride { provider: String, reason: String },
    #[error(
        "the base URL override for provider `{provider}` points to a loopback, private or \
         link-local address; set {ALLOW_PRIVATE_NETWORKS}=true to allow that"
    )]
    PrivateOverride { provider: String },
    #[error(
        "the base URL of provider `{provider}` points to a loopback, private or link-local address; \
         set {ALLOW_PRIVATE_NETWORKS}=true to allow that"
    )]
    PrivateBaseUrl { provider: String },
    #[error("{ALLOW_PRIVATE_NETWORKS} must be `true` or `false`")]
    InvalidFlag,
    #[error("probe and proxy timeouts must be longer than zero")]
    ZeroTimeout,
    #[error("the outbound HTTP client could not be built: {0}")]
    Client(#[source] reqwest::Error),
    #[error("the proxy's TLS settings could not be built: {0}")]
    Tls(#[source] tokio_rustls::rustls::Error),
}

/// The environment variable that overrides a provider's base URL:
/// `BYOK_PROVIDER_OPENAI_BASE_URL` for `openai` (`-` becomes `_`).
pub fn base_url_env_var(provider_id: &str) -> String {
    format!("BYOK_PROVIDER_{}_BASE_URL", provider_id.to_ascii_uppercase().replace('-', "_"))
}

impl ProbeSettings {
    /// Settings from environment-like variables, read through `var` (for the process
    /// environment: `|name| std::env::var(name).ok()`): a base-URL override for each
    /// provider of `catalog` that has one, and the private-network opt-in. Timeouts
    /// keep their defaults.
    pub fn from_env(catalog: &Catalog, var: impl Fn(&str) -> Option<String>) -> Result<Self, ProbeSetupError> {
        let base_url_overrides = catalog
            .providers()
            .filter_map(|p| {
                let value = var(&base_url_env_var(p.id.as_str()))?;
                Some((p.id.to_string(), value))
            })
            .collect();
        let allow_private_networks = match var(ALLOW_PRIVATE_NETWORKS) {
            None => false,
            Some(v) => parse_flag(&v).ok_or(ProbeSetupError::InvalidFlag)?,
        };
        Ok(Self { base_url_overrides, allow_private_networks, ..Self::default() })
    }
}

fn parse_flag(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "" | "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names_follow_the_contract() {
        assert_eq!(base_url_env_var("openai"), "BYOK_PROVIDER_OPENAI_BASE_URL");
        assert_eq!(base_url_env_var("local-llm"), "BYOK_PROVIDER_LOCAL_LLM_BASE_URL");
    }

    #[test]
    fn reads_overrides_and_the_flag_from_variables() {
        let catalog = crate::builtin_catalog().unwrap();
        let vars = HashMap::from([
            ("BYOK_PROVIDER_OPENAI_BASE_URL", "http://127.0.0.1:1"),
            ("BYOK_PROVIDER_NOPE_BASE_URL", "http://127.0.0.1:2"),
            ("BYOK_ALLOW_PRIVATE_NETWORKS", "true"),
        ]);
        let s = ProbeSettings::from_env(&catalog, |k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.base_url_overrides, HashMap::from([("openai".to_owned(), "http://127.0.0.1:1".to_owned())]));
        assert!(s.allow_private_networks);
        let s = ProbeSettings::from_env(&catalog, |_| None).unwrap();
        assert!(!s.allow_private_networks && s.base_url_overrides.is_empty());
        let bad =
            ProbeSettings::from_env(&catalog, |k| (k == "BYOK_ALLOW_PRIVATE_NETWORKS").then(|| "maybe".to_owned()));
        assert!(matches!(bad, Err(ProbeSetupError::InvalidFlag)));
    }
}
