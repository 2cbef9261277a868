use std::sync::Arc;

use byok_core::Catalog;
use byok_crypto::Keyring;
use byok_store::Store;

use crate::metrics::Metrics;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// SHA-256 of the bootstrap admin token (`BYOK_ADMIN_TOKEN`), if one is configured.
    pub admin_token_hash: Option<Vec<u8>>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            admin_token_hash: None,
            max_body_bytes: 64 * 1024,
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
    pub settings: ServerSettings,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        catalog: Arc<Catalog>,
        settings: ServerSettings,
    ) -> Self {
        Self(Arc::new(Inner {
            store,
            keyring,
            catalog,
            settings,
            metrics: Metrics::new(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
