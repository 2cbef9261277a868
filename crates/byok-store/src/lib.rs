//! Persistence. One [`Store`] trait, implemented for SQLite and for PostgreSQL; this
//! crate is the only place that knows which engine is in use.

mod audit_rows;
mod error;
mod group_commit;
mod pg_predicted;
mod pg_tls;
mod pg_tls_verify;
mod pg_writer;
mod postgres;
mod proxy_rows;
mod proxy_sql;
mod proxy_store;
mod rows;
mod sql_store;
mod sqlite;
mod sqlite_writer;
mod store;

use std::sync::Arc;

pub use error::StoreError;
pub use proxy_store::{CredentialTokens, ProxyStore, ProxyUsage, VirtualKeyDelta};
pub use store::{
    AuditFilter, Chainer, CredentialFilter, KeyCheckRecord, Reseal, ResealTarget, SealedItem, SecretVersion, Store,
    TierState, UsagePeriod,
};

/// Opens the database `url` names (`sqlite://PATH` or `postgres://…`) and applies
/// the migrations embedded for its engine.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else {
        let scheme = url.split_once(':').map_or("", |(s, _)| s).chars().take(20).collect();
        Err(StoreError::UnsupportedUrl(scheme))
    }
}
