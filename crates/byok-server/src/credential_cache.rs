//! A per-instance cache of what the proxy serves a request with: the credential picked
//! for an owner and provider (its secrets already opened; `SecretValue` wipes them when
//! the entry is dropped) and orgs' platform policies. It is only a shortcut: an entry is
//! used only while the store's credential epoch (bumped in the same transaction as every
//! change that can alter the pick, on any instance) is the one it was looked up under
//! and was confirmed recently, and while this instance has committed no such change
//! since. A change takes effect at once on the instance that made it and within one poll
//! interval on the others. Credentials with a monthly limit are never served from here:
//! their unit is taken exactly, in the database, every time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Instant;

use byok_core::{Credential, OrgId, Owner, ProviderId, SecretFields, Timestamp};
use byok_store::{Store, StoreError};

use crate::epoch_poll::TRUST_WINDOW;

/// Past this many owners or orgs a map starts over (it is only a shortcut).
const MAX_ENTRIES: usize = 100_000;

/// A credential without a monthly limit, ready to use.
pub(crate) struct Pick {
    pub credential: Credential,
    pub secrets: SecretFields,
}

/// What the database looked like when an entry was read: the epoch and this
/// instance's own change count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    epoch: i64,
    local: u64,
}

/// Either the cached value, or the stamp to file a freshly read one under (`None`
/// when the epoch is not trusted: the value is then used once and not kept).
pub(crate) enum Lookup<T> {
    Hit(T),
    Miss(Option<Stamp>),
}

/// An owner's picks per provider, each with its stamp and the usage period it was made for.
type OwnerPicks = HashMap<ProviderId, (Stamp, Timestamp, Arc<Pick>)>;

struct Inner {
    /// The epoch last read from the store, and when.
    epoch: Option<(i64, Instant)>,
    /// Picks per owner, then per provider: looked up without building a key.
    picks: HashMap<Owner, OwnerPicks>,
    policies: HashMap<OrgId, (Stamp, bool)>,
}

pub(crate) struct CredentialCache {
    store: Arc<dyn Store>,
    inner: RwLock<Inner>,
}

impl CredentialCache {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store, inner: RwLock::new(Inner { epoch: None, picks: HashMap::new(), policies: HashMap::new() }) }
    }

    /// The stamp of now, if the epoch was confirmed recently enough to trust.
    fn stamp(&self, inner: &Inner) -> Option<Stamp> {
        let (epoch, at) = inner.epoch?;
        (at.elapsed() < TRUST_WINDOW).then(|| Stamp { epoch, local: self.store.local_credential_changes() })
    }

    pub(crate) fn pick(&self, owner: &Owner, provider: &ProviderId, period: Timestamp) -> Lookup<Arc<Pick>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let stamp = self.stamp(&inner);
        match inner.picks.get(owner).and_then(|by_provider| by_provider.get(provider)) {
            Some((at, for_period, pick)) if Some(*at) == stamp && *for_period == period => Lookup::Hit(pick.clone()),
            _ => Lookup::Miss(stamp),
        }
    }

    /// Files a pick read from the store after `stamp` was taken.
    pub(crate) fn put_pick(&self, stamp: Stamp, period: Timestamp, pick: Arc<Pick>) {
        let (owner, provider) = (pick.credential.owner.clone(), pick.credential.provider.clone());
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let full = (inner.picks.len() >= MAX_ENTRIES).then(|| std::mem::take(&mut inner.picks));
        inner.picks.entry(owner).or_default().insert(provider, (stamp, period, pick));
        drop(inner);
        drop_off_path(full);
    }

    /// Whether `org` allows platform credentials, from the cache or the store.
    pub(crate) async fn org_allows_platform(&self, org: &OrgId) -> Result<bool, StoreError> {
        let stamp = {
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            let stamp = self.stamp(&inner);
            if let Some((at, allows)) = inner.policies.get(org)
                && Some(*at) == stamp
            {
                return Ok(*allows);
            }
            stamp
        };
        let allows = self.store.org_allows_platform(org).await?;
        if let Some(stamp) = stamp {
            let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
            let full = (inner.policies.len() >= MAX_ENTRIES).then(|| std::mem::take(&mut inner.policies));
            inner.policies.insert(org.clone(), (stamp, allows));
            drop(inner);
            drop_off_path(full);
        }
        Ok(allows)
    }

    /// Records the store's epoch; a new one drops every entry.
    fn set_epoch(&self, epoch: i64) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let stale = inner
            .epoch
            .is_some_and(|(old, _)| old != epoch)
            .then(|| (std::mem::take(&mut inner.picks), std::mem::take(&mut inner.policies)));
        inner.epoch = Some((epoch, Instant::now()));
        drop(inner);
        drop_off_path(stale);
    }

    /// Keeps the epoch fresh until the cache is dropped.
    pub(crate) fn start_polling(cache: Weak<CredentialCache>) {
        crate::epoch_poll::start(cache, |cache| async move {
            match cache.store.credential_epoch().await {
                Ok(epoch) => cache.set_epoch(epoch),
                Err(e) => tracing::warn!(error = %e, "credential epoch could not be read; cached picks expire"),
            }
        });
    }
}

/// Drops emptied maps on a blocking thread: a hundred thousand picks took tens of
/// milliseconds to drop (each wipes its secrets), which under the lock, or on a
/// runtime worker, held up every request meanwhile.
fn drop_off_path<T: Send + 'static>(emptied: Option<T>) {
    if let (Some(emptied), Ok(runtime)) = (emptied, tokio::runtime::Handle::try_current()) {
        runtime.spawn_blocking(move || drop(emptied));
    }
}
