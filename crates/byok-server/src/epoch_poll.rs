//! How the per-instance caches learn of changes made elsewhere: each reads its epoch
//! from the store every [`POLL_INTERVAL`] and trusts its entries only while the epoch
//! was confirmed within [`TRUST_WINDOW`].

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often an epoch is read from the store.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Entries are trusted only while their epoch was confirmed this recently.
pub const TRUST_WINDOW: Duration = Duration::from_secs(2);

/// Calls `refresh` with the cache every poll interval until the cache is dropped.
pub fn start<T, F, Fut>(cache: Weak<T>, refresh: F)
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(cache) = cache.upgrade() else { return };
            refresh(cache).await;
        }
    });
}
