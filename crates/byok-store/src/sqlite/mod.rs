//! SQLite, through rusqlite only: one writer thread runs the hot writes in group-commit
//! batches (`writer.rs`), a few connections on blocking threads serve the reads and the
//! changes made with their audit entries (`readers.rs`). In WAL mode readers never block
//! the writer, and every commit is synced.
//!
//! `store.rs` implements [`crate::Store`], `proxy.rs` and `webhooks.rs` the other two
//! traits; the statements live by subject in `credentials.rs`, `change.rs`, `audit.rs`,
//! `keys.rs` and `tokens.rs`.

mod audit;
mod change;
mod credentials;
mod keys;
mod migrate;
pub(crate) mod open;
mod proxy;
mod query;
mod readers;
mod rows;
mod store;
mod tokens;
mod usage_counts;
mod webhooks;
mod writer;

use crate::StoreError;
use crate::group_commit::{Counts, GroupCommit};

pub(crate) struct SqliteStore {
    readers: readers::Readers,
    meter: GroupCommit,
    /// Committed changes to credentials and org policies (see `local_credential_changes`).
    changes: std::sync::atomic::AtomicU64,
}

impl SqliteStore {
    /// Opens (creating it if missing) and migrates the database file `url` names.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let path = open::path_of(url)?;
        let migrated = path.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = open::connection(&migrated, true)?;
            migrate::run(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Worker(format!("the migration stopped: {e}")))??;
        let meter = writer::start(path.clone())?;
        Ok(Self { readers: readers::Readers::new(path), meter, changes: Default::default() })
    }

    /// Counts a committed change that the credential epoch also records.
    fn note_credential_change(&self) {
        self.changes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl SqliteStore {
    /// Hands finished requests' counts to the group-commit writer, the database's one
    /// writer (see [`crate::ProxyStore::record_proxy_usage`]), in parts of at most
    /// [`USAGE_ROWS_PER_BATCH`] rows, one after another, so that each joins a batch of
    /// its own: a thousand counts of a thousand credentials, each on a page of its own
    /// in a big database, held every resolve of their batch for milliseconds.
    pub(crate) async fn write_proxy_usage(
        &self,
        usage: &crate::ProxyUsage,
        period: byok_core::Timestamp,
        now: byok_core::Timestamp,
    ) -> Result<(), StoreError> {
        for part in usage_parts(usage) {
            self.meter.record_usage(part, period.millis(), now.millis()).await?;
        }
        Ok(())
    }

    /// Appends spooled audit records with the requests they count in the writer's next
    /// batch (see [`crate::ProxyStore::append_counted_audit`]).
    pub(crate) async fn write_counted_audit(
        &self,
        records: &[byok_core::AuditRecord],
        usage: &crate::ProxyUsage,
        period: byok_core::Timestamp,
        now: byok_core::Timestamp,
    ) -> Result<(), StoreError> {
        let counts = Counts { usage: usage.clone(), period: period.millis(), now: now.millis() };
        self.meter.append_audit(records.to_vec(), Some(counts)).await
    }
}

/// Most rows of counts written in one batch of the writer.
const USAGE_ROWS_PER_BATCH: usize = 128;

/// `usage` in parts of at most [`USAGE_ROWS_PER_BATCH`] rows of any kind (one part when
/// it is no bigger).
fn usage_parts(usage: &crate::ProxyUsage) -> Vec<crate::ProxyUsage> {
    let rows = |p: &crate::ProxyUsage| p.credential_requests.len() + p.credential_tokens.len() + p.virtual_keys.len();
    let mut parts = vec![crate::ProxyUsage::default()];
    let room = |parts: &mut Vec<crate::ProxyUsage>| {
        if parts.last().is_some_and(|p| rows(p) >= USAGE_ROWS_PER_BATCH) {
            parts.push(crate::ProxyUsage::default());
        }
        parts.len() - 1
    };
    for row in &usage.credential_requests {
        let i = room(&mut parts);
        parts[i].credential_requests.push(*row);
    }
    for row in &usage.credential_tokens {
        let i = room(&mut parts);
        parts[i].credential_tokens.push(*row);
    }
    for row in &usage.virtual_keys {
        let i = room(&mut parts);
        parts[i].virtual_keys.push(*row);
    }
    parts.retain(|p| rows(p) > 0);
    parts
}

#[cfg(test)]
mod tests {
    use byok_core::CredentialId;

    use super::*;

    #[test]
    fn counts_are_split_into_parts_without_losing_any() {
        let ids: Vec<CredentialId> = (0..300).map(|_| CredentialId::new()).collect();
        let usage = crate::ProxyUsage {
            credential_requests: ids.iter().map(|id| (*id, 2)).collect(),
            credential_tokens: ids[..5].iter().map(|id| (*id, 10)).collect(),
            virtual_keys: Vec::new(),
        };
        let parts = usage_parts(&usage);
        assert_eq!(parts.len(), 3, "128 + 128 + 49 rows");
        assert!(parts.iter().all(|p| p.credential_requests.len() + p.credential_tokens.len() <= USAGE_ROWS_PER_BATCH));
        let small =
            crate::ProxyUsage { credential_tokens: ids[..5].iter().map(|id| (*id, 10)).collect(), ..usage.clone() };
        let small = crate::ProxyUsage { credential_requests: ids[..100].iter().map(|id| (*id, 2)).collect(), ..small };
        assert_eq!(usage_parts(&small), vec![small.clone()], "a small batch stays whole");
        let requests: Vec<_> = parts.iter().flat_map(|p| p.credential_requests.clone()).collect();
        let tokens: Vec<_> = parts.iter().flat_map(|p| p.credential_tokens.clone()).collect();
        assert_eq!((requests, tokens), (usage.credential_requests, usage.credential_tokens));
    }
}
