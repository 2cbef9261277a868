//! Virtual keys' scopes, cached per instance. A scope never changes after minting, and
//! a revoked or expired key is refused by token authentication before its scope is
//! looked at, so an entry can never be stale in a way that matters.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use byok_core::{TokenId, VirtualKey};
use byok_store::{Store, StoreError};

/// Past this many entries the cache starts over (it is only a shortcut).
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub(crate) struct VirtualKeys {
    entries: RwLock<HashMap<TokenId, Arc<VirtualKey>>>,
}

impl VirtualKeys {
    pub(crate) async fn get(&self, store: &dyn Store, id: &TokenId) -> Result<Option<Arc<VirtualKey>>, StoreError> {
        if let Some(key) = self.entries.read().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(Some(key.clone()));
        }
        let Some(key) = store.virtual_key(id).await? else { return Ok(None) };
        let key = Arc::new(key);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(*id, key.clone());
        Ok(Some(key))
    }
}
