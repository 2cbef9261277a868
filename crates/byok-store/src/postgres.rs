use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::StoreError;
use crate::change_sql::{
    apply_change, delete_credential_rows, delete_webhook_rows, disable_webhook_row, insert_credential_rows,
    insert_token_rows, insert_virtual_key_rows, insert_webhook_rows, revoke_token_row, set_org_policy_row,
    update_credential_row,
};
use crate::group_commit::GroupCommit;
use crate::pg_tls::PgUrl;
use crate::proxy_sql::impl_proxy_store;
use crate::sql_store::{audit_insert, credential_columns, impl_sql_store, insert_token, insert_version};
use crate::webhook_sql::{delivery_columns, impl_webhook_store, insert_events, webhook_columns};

/// The `application_name` of the pool's connections, unless the URL names one.
const POOL_NAME: &str = "byok";

/// PostgreSQL, shared by any number of byok instances. Migrations take sqlx's
/// advisory lock, so instances starting together apply them once.
pub(crate) struct PgStore {
    pub(crate) pool: PgPool,
    meter: GroupCommit,
    /// Committed changes to credentials and org policies (see `local_credential_changes`).
    changes: std::sync::atomic::AtomicU64,
}

impl PgStore {
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let url = PgUrl::parse(url)?;
        // The default random_page_cost (4) prices an index lookup as a disk seek: with a
        // thousand credentials the planner then scanned the whole table for a batch of
        // eight or more units. byok's rows are in memory or on SSD.
        let mut options = PgConnectOptions::from_str(&url.rest)?.options([("random_page_cost", "1.1")]);
        if options.get_application_name().is_none() {
            // So that pg_stat_activity tells the pool from the metering writer.
            options = options.application_name(POOL_NAME);
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(url.tls.sqlx(options))
            .await
            .map_err(|e| url.tls.explain(e))?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let meter = crate::pg_writer::start(&url)?;
        Ok(Self { pool, meter, changes: Default::default() })
    }
}

impl_sql_store!(PgStore, sqlx::Postgres);
impl_proxy_store!(PgStore, sqlx::Postgres);
impl_webhook_store!(PgStore, sqlx::Postgres, " FOR UPDATE OF d SKIP LOCKED", " FOR UPDATE SKIP LOCKED");
