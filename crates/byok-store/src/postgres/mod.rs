//! PostgreSQL, through tokio-postgres only, shared by any number of byok instances: one
//! metering writer per instance runs the hot writes in pipelined group-commit batches
//! (`writer.rs`, `predicted.rs`), a pool serves the reads and the changes made with their
//! audit entries (`pool.rs`), both over the TLS that `sslmode` asks for (`tls.rs`).
//!
//! `store.rs` implements [`crate::Store`], `proxy.rs` and `webhooks.rs` the other two
//! traits; the statements live by subject in `credentials.rs`, `change.rs`, `audit.rs`,
//! `keys.rs`, `tokens.rs` and `usage_counts.rs`.

mod audit;
mod change;
mod credentials;
mod keys;
mod locks;
mod migrate;
mod pool;
mod predicted;
mod proxy;
mod query;
mod rows;
mod store;
mod tls;
mod tls_verify;
mod tokens;
mod usage_counts;
mod webhooks;
mod writer;

use crate::StoreError;
use crate::group_commit::GroupCommit;

/// A connection of the pool.
type Client = deadpool_postgres::Client;

pub(crate) struct PgStore {
    pool: deadpool_postgres::Pool,
    meter: GroupCommit,
    /// Committed changes to credentials and org policies (see `local_credential_changes`).
    changes: std::sync::atomic::AtomicU64,
}

impl PgStore {
    /// Connects to the database `url` names and migrates it; migrations take an
    /// advisory lock, so instances starting together apply them once.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let url = tls::PgUrl::parse(url)?;
        let pool = pool::open(&url).await?;
        migrate::run(&url).await?;
        let meter = writer::start(&url)?;
        Ok(Self { pool, meter, changes: Default::default() })
    }

    async fn client(&self) -> Result<Client, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Counts a committed change that the credential epoch also records.
    fn note_credential_change(&self) {
        self.changes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
