//! Master keys on PostgreSQL: the key checks, which key ids seal rows, and re-sealing.

use byok_core::Timestamp;
use deadpool_postgres::GenericClient;

use super::{Client, audit, credentials, locks, rows};
use crate::rows::CREDENTIAL_COLUMNS;
use crate::shared_sql::{KEY_CHECKS, SEALED_KEY_IDS};
use crate::{KeyCheckRecord, Reseal, ResealTarget, SealedItem, StoreError};

pub(crate) async fn checks(c: &impl GenericClient) -> Result<Vec<KeyCheckRecord>, StoreError> {
    let found = c.query(&c.prepare_cached(KEY_CHECKS).await?, &[]).await?;
    let checks = found.iter().map(|r| Ok(KeyCheckRecord { key_id: r.try_get(0)?, check: r.try_get(1)? }));
    checks.collect::<Result<_, tokio_postgres::Error>>().map_err(Into::into)
}

pub(crate) async fn insert_check(
    c: &impl GenericClient,
    check: &KeyCheckRecord,
    now: Timestamp,
) -> Result<(), StoreError> {
    let sql =
        "INSERT INTO key_checks (key_id, check_value, created_at) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING";
    c.execute(&c.prepare_cached(sql).await?, &[&check.key_id, &check.check, &now.millis()]).await?;
    Ok(())
}

pub(crate) async fn sealed_key_ids(c: &impl GenericClient) -> Result<Vec<String>, StoreError> {
    let found = c.query(&c.prepare_cached(SEALED_KEY_IDS).await?, &[]).await?;
    Ok(found.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}

pub(crate) async fn sealed_elsewhere(
    c: &impl GenericClient,
    primary: &str,
    limit: u32,
) -> Result<Vec<SealedItem>, StoreError> {
    let mut items = Vec::new();
    if let Some((key_id, sealed)) = audit::key(c).await?.filter(|(k, _)| k != primary) {
        items.push(SealedItem::AuditKey { key_id, sealed });
    }
    let sql = "SELECT id, sealed FROM webhooks WHERE key_id <> $1 ORDER BY id LIMIT $2";
    for r in c.query(&c.prepare_cached(sql).await?, &[&primary, &i64::from(limit)]).await? {
        items.push(SealedItem::WebhookSecret { id: r.try_get(0)?, sealed: r.try_get(1)? });
    }
    // Under each older key id through the key_id index (`ORDER BY key_id` keeps
    // PostgreSQL on it): a scan for `key_id <> primary` would walk every row already
    // re-sealed, at every batch.
    let older: Vec<String> = sealed_key_ids(c).await?.into_iter().filter(|k| k != primary).collect();
    let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE key_id = $1 ORDER BY key_id LIMIT $2");
    for key_id in &older {
        let room = i64::from(limit) - items.len() as i64;
        if room <= 0 {
            return Ok(items);
        }
        for r in c.query(&c.prepare_cached(&sql).await?, &[key_id, &room]).await? {
            items.push(SealedItem::Credential(rows::credential(&r)?.try_into()?));
        }
    }
    let sql = format!(
        "SELECT {} FROM credential_versions WHERE key_id = $1 ORDER BY key_id LIMIT $2",
        crate::rows::VERSION_COLUMNS
    );
    for key_id in &older {
        let room = i64::from(limit) - items.len() as i64;
        if room <= 0 {
            return Ok(items);
        }
        for r in c.query(&c.prepare_cached(&sql).await?, &[key_id, &room]).await? {
            let version = crate::rows::version_from_row(rows::version(&r)?)?;
            if let Some(credential) = credentials::get(c, &version.credential_id.to_string()).await? {
                items.push(SealedItem::Version { credential, version });
            }
        }
    }
    Ok(items)
}

/// Writes each envelope if its row still holds the one it was made from, the
/// credentials locked first in the one order of every writer (`locks.rs`).
pub(crate) async fn reseal(client: &mut Client, items: &[Reseal]) -> Result<u64, StoreError> {
    let tx = client.transaction().await?;
    let credentials: Vec<String> = items
        .iter()
        .filter_map(|item| match &item.target {
            ResealTarget::Credential(id) => Some(id.to_string()),
            _ => None,
        })
        .collect();
    locks::lock_credentials(&tx, &credentials).await?;
    let mut written = 0;
    for item in items {
        written += match &item.target {
            ResealTarget::Credential(id) => {
                let sql = "UPDATE credentials SET key_id = $1, sealed = $2, revision = revision + 1 WHERE id = $3 AND sealed = $4";
                tx.execute(&tx.prepare_cached(sql).await?, &[&item.key_id, &item.sealed, &id.to_string(), &item.old])
                    .await?
            }
            ResealTarget::Version(id, version) => {
                let sql = concat!(
                    "UPDATE credential_versions SET key_id = $1, sealed = $2 ",
                    "WHERE credential_id = $3 AND version = $4 AND sealed = $5"
                );
                let args: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                    [&item.key_id, &item.sealed, &id.to_string(), version, &item.old];
                tx.execute(&tx.prepare_cached(sql).await?, &args).await?
            }
            ResealTarget::AuditKey => {
                let sql = "UPDATE audit_key SET key_id = $1, sealed = $2 WHERE id = 1 AND sealed = $3";
                tx.execute(&tx.prepare_cached(sql).await?, &[&item.key_id, &item.sealed, &item.old]).await?
            }
            ResealTarget::WebhookSecret(id) => {
                let sql = "UPDATE webhooks SET key_id = $1, sealed = $2 WHERE id = $3 AND sealed = $4";
                tx.execute(&tx.prepare_cached(sql).await?, &[&item.key_id, &item.sealed, id, &item.old]).await?
            }
        };
    }
    tx.commit().await?;
    Ok(written)
}

pub(crate) async fn count_sealed_elsewhere(c: &impl GenericClient, primary: &str) -> Result<i64, StoreError> {
    let sql = concat!(
        "SELECT (SELECT count(*) FROM credentials WHERE key_id <> $1) ",
        "+ (SELECT count(*) FROM credential_versions WHERE key_id <> $1) ",
        "+ (SELECT count(*) FROM audit_key WHERE key_id <> $1) ",
        "+ (SELECT count(*) FROM webhooks WHERE key_id <> $1)"
    );
    Ok(c.query_one(&c.prepare_cached(sql).await?, &[&primary]).await?.try_get(0)?)
}
