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
use crate::group_commit::GroupCommit;
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
            // Statement journals and sorts stay in memory (no temp file per UPDATE), and
            // pages are read through a mapping rather than copied by a read() each.
            .pragma("temp_store", "memory")
            .pragma("mmap_size", "268435456");
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
    /// writer (see [`crate::ProxyStore::record_proxy_usage`]).
    pub(crate) async fn write_proxy_usage(
        &self,
        usage: &crate::ProxyUsage,
        period: byok_core::Timestamp,
        now: byok_core::Timestamp,
    ) -> Result<(), StoreError> {
        self.meter.record_usage(usage.clone(), period.millis(), now.millis()).await
    }
}

impl SqliteStore {
    /// Nothing to do: a SQLite write transaction holds the whole database, so there is
    /// no order of rows to keep (PostgreSQL's: `postgres_locks.rs`).
    pub(crate) async fn lock_credentials(
        _tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        _ids: &[String],
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

impl_sql_store!(SqliteStore, sqlx::Sqlite);
impl_proxy_store!(SqliteStore, sqlx::Sqlite);
impl_webhook_store!(SqliteStore, sqlx::Sqlite, "", "");
