//! PostgreSQL's migrations (see `crate::migrations`), on a connection of their own
//! that holds an advisory lock throughout, so that instances starting together apply
//! them once.

use refinery::Target;
use tokio_postgres::Client;

use super::tls::PgUrl;
use crate::StoreError;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// The advisory lock's key: "byok" in ASCII.
const LOCK: i64 = 0x6279_6f6b;

/// Brings the database at `url` to this build's schema.
pub(crate) async fn run(url: &PgUrl) -> Result<(), StoreError> {
    let mut config: tokio_postgres::Config = url.rest.parse()?;
    let tls = url.tls.tokio_postgres(&mut config)?;
    let (mut client, connection) = config.connect(tls).await?;
    let driver = tokio::spawn(connection);
    let outcome = async {
        client.execute("SELECT pg_advisory_lock($1)", &[&LOCK]).await?;
        let migrated = migrate(&mut client).await;
        client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK]).await?;
        migrated
    }
    .await;
    drop(client);
    let _ = driver.await;
    outcome
}

async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    if has_table(client, "_sqlx_migrations").await? && !has_table(client, "refinery_schema_history").await? {
        let history: Vec<(i64, bool)> = client
            .query("SELECT version, success FROM _sqlx_migrations ORDER BY version", &[])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        if let Some(last) = crate::migrations::adopted_version(&history, &embedded::migrations::runner())? {
            embedded::migrations::runner().set_target(Target::FakeVersion(last)).run_async(client).await?;
        }
    }
    embedded::migrations::runner().run_async(client).await?;
    Ok(())
}

async fn has_table(client: &Client, name: &str) -> Result<bool, StoreError> {
    Ok(client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name]).await?.get(0))
}
