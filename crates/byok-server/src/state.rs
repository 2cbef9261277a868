use std::sync::Arc;

use byok_core::{Catalog, Clock, PeriodAnchor, PlatformEnv, SystemClock};
use byok_crypto::Keyring;
use byok_store::Store;

use crate::metrics::Metrics;
use crate::token_cache::TokenCache;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// SHA-256 of the bootstrap admin token (`BYOK_ADMIN_TOKEN`), if one is configured.
    pub admin_token_hash: Option<Vec<u8>>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Day of the month on which usage periods start.
    pub period_anchor: PeriodAnchor,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self { admin_token_hash: None, max_body_bytes: 64 * 1024, period_anchor: PeriodAnchor::default() }
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
}

impl AppParts {
    pub fn new(store: Arc<dyn Store>, keyring: Arc<Keyring>, catalog: Arc<Catalog>) -> Self {
        Self { store, keyring, catalog, platform_env: PlatformEnv::default(), clock: Arc::new(SystemClock) }
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
}

impl AppState {
    pub fn new(parts: AppParts, settings: ServerSettings) -> Self {
        let AppParts { store, keyring, catalog, platform_env, clock } = parts;
        let token_cache = Arc::new(TokenCache::new());
        TokenCache::start_polling(Arc::downgrade(&token_cache), store.clone());
        Self(Arc::new(Inner { store, keyring, catalog, platform_env, clock, settings, metrics: Metrics::new(), token_cache }))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
