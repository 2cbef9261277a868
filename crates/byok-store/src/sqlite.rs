use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::StoreError;
use crate::change_sql::{
    apply_change, delete_credential_rows, delete_webhook_rows, disable_webhook_row, insert_credential_rows,
    insert_token_rows, insert_virtual_key_rows, insert_webhook_rows, revoke_token_row, set_org_policy_row,
    update_credential_row,
};
use crate::group_commit::{Arg, Counts, GroupCommit};
use crate::proxy_sql::impl_proxy_store;
use crate::sql_store::{audit_insert, credential_columns, impl_sql_store, insert_token, insert_version};
use crate::webhook_sql::{delivery_columns, impl_webhook_store, insert_events, webhook_columns};

/// SQLite in WAL mode: readers never block the writer, and every commit is synced.
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    meter: GroupCommit,
    /// Committed changes to credentials and org policies (see `local_credential_changes`).
    changes: std::sync::atomic::AtomicU64,
}

impl SqliteStore {
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Statement journals and sorts stay in memory (no temp file per UPDATE).
            .pragma("temp_store", "memory")
            .pragma("mmap_size", "0");
        // Checking a connection before each use would be one more hand-off to its
        // thread per query; a broken SQLite connection fails its next query anyway.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let meter = crate::sqlite_writer::start(options.get_filename().to_owned())?;
        Ok(Self { pool, meter, changes: Default::default() })
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

    /// Runs one statement that takes or gives back a unit by key in the writer's next
    /// batch: a second writer beside the writer thread waited for the write lock (p99
    /// 0.5 s at 32 connections on one virtual key); answers the rows it changed.
    pub(crate) async fn unit_statement(&self, sql: &'static str, args: Vec<Arg>) -> Result<u64, StoreError> {
        self.meter.statement(sql, args).await
    }

    /// Nothing to do: a SQLite write transaction holds the whole database, so there is
    /// no order of rows to keep (PostgreSQL's: `postgres_locks.rs`).
    pub(crate) async fn lock_credentials(
        _tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        _ids: &[String],
    ) -> Result<(), StoreError> {
        Ok(())
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

impl_sql_store!(SqliteStore, sqlx::Sqlite);
impl_proxy_store!(SqliteStore, sqlx::Sqlite);
impl_webhook_store!(SqliteStore, sqlx::Sqlite, "", "");

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
