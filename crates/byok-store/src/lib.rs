//! Persistence. One [`Store`] trait, implemented for SQLite and for PostgreSQL; this
//! crate is the only place that knows which engine is in use.

mod audit_rows;
mod backup;
mod change;
mod error;
mod filters;
mod group_commit;
mod migrations;
mod postgres;
mod proxy_rows;
mod proxy_store;
mod rows;
mod shared_sql;
mod sqlite;
mod store;
mod webhook_rows;
mod webhook_store;

use std::sync::Arc;

pub use backup::backup;
pub use change::Change;
pub use error::StoreError;
pub use proxy_store::{CredentialTokens, ProxyStore, ProxyUsage, VirtualKeyDelta};
pub use store::{
    AuditFilter, Chainer, CredentialFilter, KeyCheckRecord, PrunedHead, Reseal, ResealTarget, SealedItem,
    SecretVersion, Store, TierState, TokenFilter, UsagePeriod,
};
pub use webhook_store::{Attempt, Delivery, DeliveryState, Webhook, WebhookStore};

/// Opens the database `url` names (`sqlite://PATH` or `postgres://…`) and applies
/// the migrations embedded for its engine.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match engine_of(url)? {
        Engine::Sqlite => Ok(Arc::new(sqlite::SqliteStore::connect(url).await?)),
        Engine::Postgres => Ok(Arc::new(postgres::PgStore::connect(url).await?)),
    }
}

enum Engine {
    Sqlite,
    Postgres,
}

fn engine_of(url: &str) -> Result<Engine, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Engine::Postgres)
    } else {
        let scheme = url.split_once(':').map_or("", |(s, _)| s).chars().take(20).collect();
        Err(StoreError::UnsupportedUrl(scheme))
    }
}
