//! A per-instance cache of authenticated tokens. It is only a shortcut: an entry is
//! used only while the store's token epoch (bumped by every revocation, on any
//! instance) is the one it was looked up under, and while that epoch was confirmed
//! recently. A revocation takes effect at once on the instance that made it and
//! within one poll interval on the others.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Instant;

use byok_core::{Principal, Timestamp, Token};
use byok_store::Store;

use crate::epoch_poll::TRUST_WINDOW;

/// Past this many entries the cache starts over (it is only a shortcut).
const MAX_ENTRIES: usize = 100_000;

struct Entry {
    principal: Principal,
    expires_at: Option<Timestamp>,
    epoch: i64,
}

struct Inner {
    /// The epoch last read from the store, and when.
    epoch: Option<(i64, Instant)>,
    entries: HashMap<Vec<u8>, Entry>,
}

pub struct TokenCache {
    inner: RwLock<Inner>,
}

impl TokenCache {
    pub fn new() -> Self {
        Self { inner: RwLock::new(Inner { epoch: None, entries: HashMap::new() }) }
    }

    /// The current epoch if it was confirmed recently enough to trust cached entries.
    pub fn current_epoch(&self) -> Option<i64> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.epoch.filter(|(_, at)| at.elapsed() < TRUST_WINDOW).map(|(e, _)| e)
    }

    pub fn get(&self, hash: &[u8], now: Timestamp) -> Option<Principal> {
        let epoch = self.current_epoch()?;
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let entry = inner.entries.get(hash)?;
        (entry.epoch == epoch && entry.expires_at.is_none_or(|e| now < e)).then(|| entry.principal.clone())
    }

    /// Remembers an active token looked up while `epoch` was current.
    pub fn put(&self, hash: Vec<u8>, token: &Token, epoch: i64) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner
            .entries
            .insert(hash, Entry { principal: Principal::from_token(token), expires_at: token.expires_at, epoch });
    }

    /// Records the store's epoch; a new one drops every entry.
    pub fn set_epoch(&self, epoch: i64) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.epoch.is_some_and(|(old, _)| old != epoch) {
            inner.entries.clear();
        }
        inner.epoch = Some((epoch, Instant::now()));
    }

    /// Reads the epoch from the store now.
    pub async fn refresh(&self, store: &dyn Store) {
        match store.token_epoch().await {
            Ok(epoch) => self.set_epoch(epoch),
            Err(e) => tracing::warn!(error = %e, "token epoch could not be read; cached tokens expire"),
        }
    }

    /// Keeps the epoch fresh until the cache is dropped.
    pub fn start_polling(cache: Weak<TokenCache>, store: Arc<dyn Store>) {
        crate::epoch_poll::start(cache, move |cache| {
            let store = store.clone();
            async move { cache.refresh(store.as_ref()).await }
        });
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new()
    }
}
