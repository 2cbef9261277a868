//! The pool of connections that serve reads and the changes made with their audit
//! entries, over the same TLS as the metering writer (`tls.rs`).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use super::tls::PgUrl;
use crate::StoreError;

/// The `application_name` of the pool's connections, unless the URL names one.
const POOL_NAME: &str = "byok";

/// Most connections open at once.
const CONNECTIONS: usize = 16;

/// Opens the pool and its first connection, so that a wrong address, password or TLS
/// setting stops start-up with its reason.
pub(crate) async fn open(url: &PgUrl) -> Result<Pool, StoreError> {
    let mut config: tokio_postgres::Config = url.rest.parse()?;
    // The default random_page_cost (4) prices an index lookup as a disk seek: with a
    // thousand credentials the planner then scanned the whole table for a batch of
    // eight or more units. byok's rows are in memory or on SSD.
    config.options("-c random_page_cost=1.1");
    if config.get_application_name().is_none() {
        // So that pg_stat_activity tells the pool from the metering writer.
        config.application_name(POOL_NAME);
    }
    let tls = url.tls.tokio_postgres(&mut config)?;
    // A connection is reused as it is: checking it first would be one more round trip
    // per use, and a broken one fails its next statement anyway.
    let manager = Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(manager)
        .max_size(CONNECTIONS)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(10)))
        .build()
        .map_err(|e| StoreError::Pool(e.to_string()))?;
    drop(pool.get().await.map_err(|e| url.tls.explain(e))?);
    Ok(pool)
}
