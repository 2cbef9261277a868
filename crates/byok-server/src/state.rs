use std::sync::Arc;
use std::time::Duration;

use byok_core::{Catalog, Clock, PeriodAnchor, PlatformEnv, SystemClock};
use byok_crypto::Keyring;
use byok_providers::Prober;
use byok_store::Store;

use crate::audit::Auditor;
use crate::credential_cache::CredentialCache;
use crate::metrics::Metrics;
use crate::probing::ProbeLimiter;
use crate::proxy::ProxyState;
use crate::short_lived::ShortLivedCache;
use crate::token_cache::TokenCache;
use crate::usage_writer::UsageWriter;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// SHA-256 of the bootstrap admin token (`BYOK_ADMIN_TOKEN`), if one is configured.
    pub admin_token_hash: Option<Vec<u8>>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Day of the month on which usage periods start.
    pub period_anchor: PeriodAnchor,
    /// Connection tests allowed per owner per minute.
    pub probe_rate_per_minute: u32,
    /// How often connected credentials are re-tested; `None` turns it off.
    pub reverify_interval: Option<Duration>,
    /// Re-tests running at once.
    pub reverify_concurrency: usize,
    /// Earlier secret versions kept per credential.
    pub keep_versions: u32,
    /// Largest request body the proxy forwards, in bytes.
    pub proxy_max_body_bytes: usize,
    /// Whether the settings page's session cookie is marked `Secure` (HTTPS only).
    pub ui_secure_cookie: bool,
    /// Whether a newly stored secret is tested in the background right away.
    pub test_new_credentials: bool,
    /// Whether create and a PATCH with new fields test them first unless the request
    /// says `"validate": false`.
    pub validate_on_create: bool,
    /// The providers the settings page shows (`BYOK_UI_PROVIDERS`); all when `None`.
    pub ui_providers: Option<Vec<byok_core::ProviderId>>,
    /// The product's own sign-in (`BYOK_JWT_*`): JWTs act as user tokens.
    pub jwt: Option<crate::JwtSettings>,
    /// Origins whose pages may sign people in to the settings page with a JWT.
    pub ui_sign_in_origins: Vec<String>,
    pub webhooks: crate::WebhookSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            admin_token_hash: None,
            max_body_bytes: 64 * 1024,
            period_anchor: PeriodAnchor::default(),
            probe_rate_per_minute: 10,
            reverify_interval: Some(Duration::from_secs(24 * 3600)),
            reverify_concurrency: 4,
            keep_versions: 10,
            proxy_max_body_bytes: 10 * 1024 * 1024,
            ui_secure_cookie: false,
            test_new_credentials: true,
            validate_on_create: false,
            ui_providers: None,
            jwt: None,
            ui_sign_in_origins: Vec::new(),
            webhooks: crate::WebhookSettings::default(),
        }
    }
}

/// What the application is built from.
pub struct AppParts {
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub catalog: Arc<Catalog>,
    /// Platform credentials read from the environment at start-up.
    pub platform_env: PlatformEnv,
    pub clock: Arc<dyn Clock>,
    pub prober: Prober,
    pub audit: Auditor,
}

impl AppParts {
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        catalog: Arc<Catalog>,
        prober: Prober,
        audit: Auditor,
    ) -> Self {
        Self {
            store,
            keyring,
            catalog,
            platform_env: PlatformEnv::default(),
            clock: Arc::new(SystemClock),
            prober,
            audit,
        }
    }
}

/// Everything a request handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub catalog: Arc<Catalog>,
    pub platform_env: PlatformEnv,
    pub clock: Arc<dyn Clock>,
    pub settings: ServerSettings,
    pub metrics: Metrics,
    pub token_cache: Arc<TokenCache>,
    pub(crate) credential_cache: Arc<CredentialCache>,
    pub(crate) short_lived: ShortLivedCache,
    pub(crate) jwt: Option<crate::jwt::JwtVerifier>,
    /// Connection tests of new secrets running at once (`reverify_concurrency`); the rest wait.
    pub(crate) background_tests: Arc<tokio::sync::Semaphore>,
    pub prober: Prober,
    pub probe_limiter: ProbeLimiter,
    pub audit: Auditor,
    pub(crate) proxy: ProxyState,
    /// Counts of uses without a limit (resolves and proxied requests), written after the fact.
    pub(crate) usage: UsageWriter,
    /// This instance's leases of per-minute limits.
    pub(crate) minute_limits: crate::minute_limits::MinuteLimits,
}

impl AppState {
    pub fn new(parts: AppParts, settings: ServerSettings) -> Self {
        let AppParts { store, keyring, catalog, platform_env, clock, prober, audit } = parts;
        let token_cache = Arc::new(TokenCache::new());
        TokenCache::start_polling(Arc::downgrade(&token_cache), store.clone());
        let credential_cache = Arc::new(CredentialCache::new(store.clone()));
        CredentialCache::start_polling(Arc::downgrade(&credential_cache));
        let probe_limiter = ProbeLimiter::new(settings.probe_rate_per_minute);
        let background_tests = Arc::new(tokio::sync::Semaphore::new(settings.reverify_concurrency.max(1)));
        let proxy = ProxyState::new(&settings);
        let usage = UsageWriter::start(store.clone(), clock.clone(), settings.period_anchor);
        let jwt = settings.jwt.clone().map(|jwt| crate::jwt::JwtVerifier::new(jwt, prober.clone(), clock.clone()));
        Self(Arc::new(Inner {
            store,
            keyring,
            catalog,
            platform_env,
            clock,
            settings,
            metrics: Metrics::new(),
            token_cache,
            credential_cache,
            short_lived: ShortLivedCache::default(),
            jwt,
            background_tests,
            prober,
            probe_limiter,
            audit,
            proxy,
            usage,
            minute_limits: crate::minute_limits::MinuteLimits::default(),
        }))
    }

    /// Writes what the background writers still hold (counts of uses without a
    /// limit, submitted audit entries): call it once serving has stopped.
    pub async fn flush(&self) {
        self.usage.flush().await;
        self.audit.flush().await;
    }

    /// Starts the background work a serving instance does (re-verification, webhook
    /// delivery).
    pub fn start_background(&self) {
        crate::webhooks::start(self.clone());
        if let Some(interval) = self.settings.reverify_interval {
            crate::probing::start_reverification(self.clone(), interval, self.settings.reverify_concurrency);
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
