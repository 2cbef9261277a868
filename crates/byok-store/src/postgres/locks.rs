//! The one order in which a PostgreSQL transaction locks several credentials: that of
//! the metering writer's take (`writer.rs`), which locks at most one row per (owner,
//! provider), in the byte order of (owner, provider). A transaction that locks in that
//! order too cannot close a cycle with a take, so neither is chosen as a deadlock's
//! victim: a re-seal batch of `byok rotate-key` once was, on a busy server.

use deadpool_postgres::Transaction;

use crate::StoreError;

const LOCK_IN_ORDER: &str = concat!(
    "SELECT id FROM credentials WHERE id = ANY($1) ",
    "ORDER BY owner COLLATE \"C\", provider COLLATE \"C\", id COLLATE \"C\" FOR UPDATE"
);

/// Locks the credentials `ids` (those that exist) for the rest of `tx`.
pub(crate) async fn lock_credentials(tx: &Transaction<'_>, ids: &[String]) -> Result<(), StoreError> {
    if ids.len() > 1 {
        tx.execute(&tx.prepare_cached(LOCK_IN_ORDER).await?, &[&ids]).await?;
    }
    Ok(())
}
