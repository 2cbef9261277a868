//! Connection tests: the cheapest read-only call each provider documents, classified
//! as connected, restricted, invalid or unavailable.

mod answer;
mod context;
mod guard;
mod http;
mod outcome;
mod settings;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use byok_core::{Catalog, ProbeSpec, ProviderSpec, SecretFields};

use crate::adapters;
use crate::mint::{MintFailure, ShortLived};
use crate::origin::Origin;
use crate::proxy::Upstream;

pub(crate) use answer::{Detail, safe_code, safe_text};
pub(crate) use context::ProbeContext;
pub(crate) use guard::guarded_addrs;
pub use http::Failure;
pub(crate) use http::Reply;
pub(crate) use http::is_allowed_host;
pub(crate) use outcome::Verdict;
pub use outcome::{ProbeOutcome, ProbeOutcomeKind};
pub use settings::{ProbeSettings, ProbeSetupError, base_url_env_var};

/// Whether `origin` names a loopback, private or link-local address outright (names
/// are checked again whenever they are resolved).
fn names_private_address(origin: &Origin) -> bool {
    origin.is_localhost_name() || origin.ip().is_some_and(|ip| !guard::is_public(ip))
}

/// Runs connection tests. Cheap to clone (one pooled HTTP client behind an `Arc`),
/// `Send` and `Sync`: build one at start-up and share it.
#[derive(Clone)]
pub struct Prober {
    inner: Arc<Inner>,
}

struct Inner {
    http: http::Http,
    /// The proxy's client: same guard, timeouts fit for long streams.
    upstream: Upstream,
    /// Provider id to normalised origin.
    overrides: HashMap<String, String>,
    total_timeout: Duration,
    allow_private_networks: bool,
}

impl fmt::Debug for Prober {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prober")
            .field("overrides", &self.inner.overrides)
            .field("total_timeout", &self.inner.total_timeout)
            .finish_non_exhaustive()
    }
}

impl Prober {
    /// Checks the settings: every override must be an origin, and unless private
    /// networks are allowed, none may name a loopback, private or link-local address
    /// (names are checked again whenever they are resolved).
    pub fn new(settings: ProbeSettings) -> Result<Self, ProbeSetupError> {
        if settings.connect_timeout.is_zero()
            || settings.total_timeout.is_zero()
            || settings.proxy_read_timeout.is_zero()
        {
            return Err(ProbeSetupError::ZeroTimeout);
        }
        let mut overrides = HashMap::with_capacity(settings.base_url_overrides.len());
        for (provider, value) in settings.base_url_overrides {
            let origin = Origin::parse(&value)
                .map_err(|e| ProbeSetupError::InvalidOverride { provider: provider.clone(), reason: e.to_string() })?;
            if names_private_address(&origin) && !settings.allow_private_networks {
                return Err(ProbeSetupError::PrivateOverride { provider });
            }
            overrides.insert(provider, origin.as_string());
        }
        let http = http::Http::new(settings.connect_timeout, settings.total_timeout, settings.allow_private_networks)
            .map_err(ProbeSetupError::Client)?;
        let upstream =
            Upstream::new(settings.connect_timeout, settings.proxy_read_timeout, settings.allow_private_networks)
                .map_err(ProbeSetupError::Tls)?;
        let allow_private_networks = settings.allow_private_networks;
        let inner = Inner { http, upstream, overrides, total_timeout: settings.total_timeout, allow_private_networks };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Checks the catalog's base URLs (the built-in ones and `[[providers]]`) as the
    /// overrides are checked: unless private networks are allowed, a provider byok
    /// would call at a loopback, private or link-local address refuses start-up.
    pub fn check_catalog(&self, catalog: &Catalog) -> Result<(), ProbeSetupError> {
        if self.inner.allow_private_networks {
            return Ok(());
        }
        let private = catalog.providers().find(|p| {
            !self.inner.overrides.contains_key(p.id.as_str())
                && p.base_url.as_deref().and_then(|b| Origin::parse(b).ok()).is_some_and(|o| names_private_address(&o))
        });
        match private {
            Some(p) => Err(ProbeSetupError::PrivateBaseUrl { provider: p.id.to_string() }),
            None => Ok(()),
        }
    }

    /// The proxy's outbound client (pooled, behind the same SSRF guard).
    pub fn upstream(&self) -> &Upstream {
        &self.inner.upstream
    }

    /// The origin byok calls for `provider`: its override, else the catalog's
    /// `base_url`. `None` when the provider has neither.
    pub fn base_url(&self, provider: &ProviderSpec) -> Option<String> {
        if let Some(origin) = self.inner.overrides.get(provider.id.as_str()) {
            return Some(origin.clone());
        }
        let base = provider.base_url.as_deref()?;
        Origin::parse(base).ok().map(|o| o.as_string())
    }

    /// The JSON document at `url` (a JWKS), fetched through the SSRF guard within the
    /// connection tests' timeouts. `Err` says why not, for the log.
    pub async fn fetch_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let url = reqwest::Url::parse(url).map_err(|_| "not a URL".to_owned())?;
        let request = self.inner.http.request(reqwest::Method::GET, url);
        let reply = self.inner.http.send(request).await.map_err(|failure| format!("{failure:?}"))?;
        if !reply.is_success() {
            return Err(format!("answered {}", reply.status));
        }
        reply.json().ok_or_else(|| "the answer is not JSON".to_owned())
    }

    /// Whether `url` may receive webhooks: http(s), and unless private networks are
    /// allowed, no loopback, private or link-local address or `localhost` name (names
    /// are checked again at each delivery, when they are resolved).
    pub fn webhook_url_permitted(&self, url: &reqwest::Url) -> Result<(), &'static str> {
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err("must be an http or https URL with a host");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password");
        }
        if !self.inner.allow_private_networks && !is_allowed_host(url) {
            return Err("names a private address (set BYOK_ALLOW_PRIVATE_NETWORKS=true to allow)");
        }
        Ok(())
    }

    /// Posts one webhook delivery (`body` as JSON with `headers`) through the SSRF guard,
    /// within `timeout`, following no redirect: the status it was answered with.
    pub async fn post_webhook(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: String,
        timeout: Duration,
    ) -> Result<u16, Failure> {
        let url = reqwest::Url::parse(url).map_err(|_| Failure::Other)?;
        let mut request = self
            .inner
            .http
            .request(reqwest::Method::POST, url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        Ok(self.inner.http.send(request).await?.status)
    }

    /// Whether the operator overrides `provider`'s base URL (the override then takes
    /// precedence over a credential's own resource, as for tests against fakes).
    pub fn is_overridden(&self, provider: &ProviderSpec) -> bool {
        self.inner.overrides.contains_key(provider.id.as_str())
    }

    /// Tests a credential: `config` holds its public fields, `secrets` its secret
    /// ones. Never fails: every problem is an outcome with a message for people.
    pub async fn probe(
        &self,
        provider: &ProviderSpec,
        config: &BTreeMap<String, String>,
        secrets: &SecretFields,
    ) -> ProbeOutcome {
        let started = Instant::now();
        let limit = self.inner.total_timeout;
        let verdict = tokio::time::timeout(limit, self.run(provider, config, secrets)).await.unwrap_or_else(|_| {
            Verdict::unavailable(format!("{} did not answer within {}; try again later.", provider.name, human(limit)))
        });
        ProbeOutcome {
            kind: verdict.kind,
            message: answer::scrub(verdict.message, secrets),
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    async fn run(&self, provider: &ProviderSpec, config: &BTreeMap<String, String>, secrets: &SecretFields) -> Verdict {
        let (probe, origin) = match self.target(provider) {
            Ok(target) => target,
            Err(verdict) => return verdict,
        };
        let cx = self.context(provider, probe, &origin, config, secrets);
        adapters::for_probe(probe).probe(&cx).await
    }

    /// Mints a short-lived credential from a cloud credential (see
    /// [`crate::mints_short_lived`]), within the connection tests' time limit.
    pub async fn mint(
        &self,
        provider: &ProviderSpec,
        config: &BTreeMap<String, String>,
        secrets: &SecretFields,
        scope: Option<&str>,
    ) -> Result<ShortLived, MintFailure> {
        let limit = self.inner.total_timeout;
        let minted = async {
            let (probe, origin) = self.target(provider)?;
            let cx = self.context(provider, probe, &origin, config, secrets);
            adapters::for_probe(probe).mint(&cx, scope).await
        };
        let minted = tokio::time::timeout(limit, minted).await.unwrap_or_else(|_| {
            Err(Verdict::unavailable(format!(
                "{} did not answer within {}; try again later.",
                provider.name,
                human(limit)
            )))
        });
        minted.map_err(|verdict| MintFailure { kind: verdict.kind, message: answer::scrub(verdict.message, secrets) })
    }

    /// The catalog's probe of `provider` (which names its adapter) and the origin to call.
    fn target<'a>(&self, provider: &'a ProviderSpec) -> Result<(&'a ProbeSpec, String), Verdict> {
        let Some(probe) = &provider.probe else {
            return Err(Verdict::unavailable(format!("The catalog has no connection test for {}.", provider.name)));
        };
        let Some(origin) = self.base_url(provider) else {
            return Err(Verdict::unavailable(format!("The catalog has no base URL for {}.", provider.name)));
        };
        Ok((probe, origin))
    }

    fn context<'a>(
        &'a self,
        provider: &'a ProviderSpec,
        probe: &'a ProbeSpec,
        origin: &'a str,
        config: &'a BTreeMap<String, String>,
        secrets: &'a SecretFields,
    ) -> ProbeContext<'a> {
        ProbeContext {
            http: &self.inner.http,
            provider,
            probe,
            origin,
            overridden: self.inner.overrides.contains_key(provider.id.as_str()),
            config,
            secrets,
        }
    }
}

/// `15 s` or `500 ms`.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) { format!("{} s", ms / 1000) } else { format!("{ms} ms") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(overrides: &[(&str, &str)], allow_private: bool) -> ProbeSettings {
        ProbeSettings {
            base_url_overrides: overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            allow_private_networks: allow_private,
            ..ProbeSettings::default()
        }
    }

    #[test]
    fn overrides_must_be_origins() {
        for bad in ["http://x.example/v1", "x.example", "ftp://x.example"] {
            let err = Prober::new(settings(&[("openai", bad)], true)).unwrap_err();
            assert!(
                matches!(&err, ProbeSetupError::InvalidOverride { provider, .. } if provider == "openai"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn overrides_to_local_networks_need_the_opt_in() {
        for local in [
            "http://127.0.0.1:8080",
            "http://10.0.0.1",
            "http://169.254.169.254",
            "http://[::1]:9000",
            "http://192.168.0.10",
            "http://localhost:1234",
        ] {
            let err = Prober::new(settings(&[("openai", local)], false)).unwrap_err();
            assert!(matches!(err, ProbeSetupError::PrivateOverride { .. }), "{local}: {err}");
            assert!(Prober::new(settings(&[("openai", local)], true)).is_ok(), "{local}");
        }
        assert!(Prober::new(settings(&[("openai", "https://203.0.114.1")], false)).is_ok());
    }

    #[test]
    fn base_url_prefers_the_override() {
        let catalog = crate::builtin_catalog().unwrap();
        let openai = catalog.get("openai").unwrap();
        let prober = Prober::new(ProbeSettings::default()).unwrap();
        assert_eq!(prober.base_url(openai).as_deref(), Some("https://api.openai.com"));
        let prober = Prober::new(settings(&[("openai", "https://proxy.example:8443/")], false)).unwrap();
        assert_eq!(prober.base_url(openai).as_deref(), Some("https://proxy.example:8443"));
    }

    #[test]
    fn zero_timeouts_are_refused() {
        let s = ProbeSettings { total_timeout: Duration::ZERO, ..ProbeSettings::default() };
        assert!(matches!(Prober::new(s), Err(ProbeSetupError::ZeroTimeout)));
    }

    #[test]
    fn the_prober_is_shareable_and_its_probe_future_is_send() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Prober>();
        fn send<F: std::future::Future + Send>(_: F) {}
        let prober = Prober::new(ProbeSettings::default()).unwrap();
        let catalog = crate::builtin_catalog().unwrap();
        let config = BTreeMap::new();
        let secrets = SecretFields::new();
        send(prober.probe(catalog.get("openai").unwrap(), &config, &secrets));
    }
}
