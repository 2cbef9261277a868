use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::StoreError;
use crate::group_commit::GroupCommit;
use crate::proxy_sql::impl_proxy_store;
use crate::sql_store::{audit_insert, credential_columns, impl_sql_store, insert_version, start_group_commit};

/// SQLite in WAL mode: readers never block the writer, and every commit is synced.
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    meter: GroupCommit,
}

impl SqliteStore {
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let meter = start_group_commit!(pool, sqlx::Sqlite, 1, "");
        Ok(Self { pool, meter })
    }
}

impl_sql_store!(SqliteStore, sqlx::Sqlite);
impl_proxy_store!(SqliteStore, sqlx::Sqlite);
