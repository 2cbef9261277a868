//! Short-lived credentials minted for `resolve` (`"form": "short_lived"`), kept per
//! credential and scope until shortly before they expire, so that a burst of callers
//! mints once: the first caller mints while the others wait for its token.
//!
//! Entries are filed under the credential's revision, which every change to it bumps,
//! and `resolve` reads the credential from the store on every call: an edited,
//! disabled or deleted credential's tokens are never handed out again, on any instance,
//! from the moment the change commits; an edited one's are dropped at its next resolve.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use byok_core::{ProviderSpec, SecretFields, Timestamp};
use byok_providers::{MintFailure, Prober, ShortLived};

/// Past this many credentials the cache starts over (it is only a shortcut).
const MAX_CREDENTIALS: usize = 100_000;
/// A token is handed out while at least this much of its life is left (or a quarter
/// of its life, for short ones).
const RENEW_BEFORE_MS: i64 = 5 * 60 * 1000;

/// A minted credential and when it was minted.
struct Minted {
    at: Timestamp,
    credential: Arc<ShortLived>,
}

/// The minted credential for one scope; the lock is held while minting.
type Slot = Arc<tokio::sync::Mutex<Option<Minted>>>;

/// One credential's entries: the revision they were minted from, and a slot per scope
/// (`""` for the provider's default scope, which no caller can spell: a scope is never
/// blank).
struct Entries {
    revision: i64,
    scopes: HashMap<String, Slot>,
}

#[derive(Default)]
pub(crate) struct ShortLivedCache {
    credentials: Mutex<HashMap<String, Entries>>,
}

impl ShortLivedCache {
    /// The fresh credential filed for `credential` at `revision` and `scope`, else the
    /// one `mint` makes (filed for the next callers; a failure is not kept).
    pub(crate) async fn get_or_mint<E, F: Future<Output = Result<ShortLived, E>>>(
        &self,
        credential: &str,
        revision: i64,
        scope: Option<&str>,
        mint: impl FnOnce() -> F,
    ) -> Result<Arc<ShortLived>, E> {
        let slot = self.slot(credential, revision, scope);
        let mut held = slot.lock().await;
        let now = Timestamp::now();
        if let Some(minted) = held.as_ref().filter(|m| fresh(m, now)) {
            return Ok(minted.credential.clone());
        }
        let credential = Arc::new(mint().await?);
        *held = Some(Minted { at: now, credential: credential.clone() });
        Ok(credential)
    }

    /// The short-lived credential minted from a credential (`key`: its id and revision;
    /// `config` and `secrets`: its public and secret fields) for `scope`: from the cache, or
    /// minted by `prober` now. A failure is logged (without the cloud's message, which the
    /// caller answers with) and not kept.
    pub(crate) async fn mint(
        &self,
        prober: &Prober,
        spec: &ProviderSpec,
        (credential, revision): (&str, i64),
        config: &BTreeMap<String, String>,
        secrets: &SecretFields,
        scope: Option<&str>,
    ) -> Result<Arc<ShortLived>, MintFailure> {
        self.get_or_mint(credential, revision, scope, || async {
            prober.mint(spec, config, secrets, scope).await.inspect_err(|failure| {
                tracing::warn!(credential_id = credential, provider = %spec.id, kind = failure.kind.as_str(),
                    "no short-lived credential minted");
            })
        })
        .await
    }

    /// The slot of `credential` at `revision` for `scope`; a hit allocates nothing (it is
    /// on the proxy's path for every Azure and Vertex request).
    fn slot(&self, credential: &str, revision: i64, scope: Option<&str>) -> Slot {
        let mut credentials = self.credentials.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entries) = credentials.get(credential)
            && entries.revision == revision
            && let Some(slot) = entries.scopes.get(scope.unwrap_or_default())
        {
            return slot.clone();
        }
        if credentials.len() >= MAX_CREDENTIALS && !credentials.contains_key(credential) {
            credentials.clear();
        }
        let entries =
            credentials.entry(credential.to_owned()).or_insert_with(|| Entries { revision, scopes: HashMap::new() });
        if entries.revision != revision {
            // The credential changed since: what was minted from it is stale.
            *entries = Entries { revision, scopes: HashMap::new() };
        }
        entries.scopes.entry(scope.unwrap_or_default().to_owned()).or_default().clone()
    }
}

/// Whether `minted` has enough of its life left to hand out at `now`.
fn fresh(minted: &Minted, now: Timestamp) -> bool {
    let expires = minted.credential.expires_at.millis();
    let lifetime = expires - minted.at.millis();
    expires - now.millis() > RENEW_BEFORE_MS.min(lifetime / 4)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn token(lifetime_secs: i64) -> ShortLived {
        ShortLived { fields: Default::default(), expires_at: Timestamp::now().plus_seconds(lifetime_secs) }
    }

    #[tokio::test]
    async fn concurrent_callers_mint_once() {
        let cache = Arc::new(ShortLivedCache::default());
        let mints = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..64)
            .map(|_| {
                let (cache, mints) = (cache.clone(), mints.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_mint("c1", 1, None, || async {
                            mints.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            Ok::<_, ()>(token(3600))
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
        assert_eq!(mints.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_new_revision_another_scope_or_a_stale_token_mints_again_and_failures_are_not_kept() {
        let cache = ShortLivedCache::default();
        let mints = AtomicUsize::new(0);
        let get = |revision, scope, lifetime| {
            let mints = &mints;
            cache.get_or_mint("c1", revision, scope, move || async move {
                mints.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(token(lifetime))
            })
        };
        get(1, None, 3600).await.unwrap();
        get(1, None, 3600).await.unwrap();
        assert_eq!(mints.load(Ordering::SeqCst), 1, "a hit");
        get(1, Some("s"), 3600).await.unwrap();
        assert_eq!(mints.load(Ordering::SeqCst), 2, "another scope");
        get(2, None, 3600).await.unwrap();
        assert_eq!(mints.load(Ordering::SeqCst), 3, "the credential changed");
        get(2, Some("near"), 200).await.unwrap();
        get(2, Some("near"), 200).await.unwrap();
        assert_eq!(mints.load(Ordering::SeqCst), 4, "200 s tokens are fresh for their first 150 s");
        get(2, Some("old"), 60).await.unwrap();
        let failed = cache.get_or_mint("c1", 2, Some("failing"), || async { Err::<ShortLived, _>("no") }).await;
        assert_eq!(failed.unwrap_err(), "no");
        get(2, Some("failing"), 3600).await.unwrap();
        assert_eq!(mints.load(Ordering::SeqCst), 6, "a failure is not kept");
    }

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        let now = Timestamp::now();
        let minted = |lifetime_secs: i64, age_secs: i64| Minted {
            at: now.plus_seconds(-age_secs),
            credential: Arc::new(ShortLived {
                fields: Default::default(),
                expires_at: now.plus_seconds(lifetime_secs - age_secs),
            }),
        };
        assert!(fresh(&minted(3600, 3000), now), "10 minutes left");
        assert!(!fresh(&minted(3600, 3400), now), "under 5 minutes left");
        assert!(fresh(&minted(200, 100), now), "half of a short life left");
        assert!(!fresh(&minted(200, 160), now), "under a quarter of a short life left");
    }
}
