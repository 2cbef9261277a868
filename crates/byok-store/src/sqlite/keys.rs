//! Master keys on SQLite: the key checks, which key ids seal rows, and re-sealing.

use byok_core::Timestamp;
use rusqlite::{Connection, TransactionBehavior, params};

use super::{audit, credentials, rows};
use crate::rows::CREDENTIAL_COLUMNS;
use crate::shared_sql::{KEY_CHECKS, SEALED_KEY_IDS};
use crate::{KeyCheckRecord, Reseal, ResealTarget, SealedItem, StoreError};

pub(crate) fn checks(conn: &Connection) -> Result<Vec<KeyCheckRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(KEY_CHECKS)?;
    let checks = stmt.query_map([], |r| Ok(KeyCheckRecord { key_id: r.get(0)?, check: r.get(1)? }))?;
    Ok(checks.collect::<Result<_, _>>()?)
}

pub(crate) fn insert_check(conn: &Connection, check: &KeyCheckRecord, now: Timestamp) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO key_checks (key_id, check_value, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (key_id) DO NOTHING",
    )?
    .execute(params![check.key_id, check.check, now.millis()])?;
    Ok(())
}

pub(crate) fn sealed_key_ids(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(SEALED_KEY_IDS)?;
    let ids = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(ids)
}

pub(crate) fn sealed_elsewhere(conn: &Connection, primary: &str, limit: u32) -> Result<Vec<SealedItem>, StoreError> {
    let mut items = Vec::new();
    if let Some((key_id, sealed)) = audit::key(conn)?.filter(|(k, _)| k != primary) {
        items.push(SealedItem::AuditKey { key_id, sealed });
    }
    let mut stmt = conn.prepare_cached("SELECT id, sealed FROM webhooks WHERE key_id <> ?1 ORDER BY id LIMIT ?2")?;
    for row in stmt.query_map(params![primary, i64::from(limit)], |r| Ok((r.get(0)?, r.get(1)?)))? {
        let (id, sealed) = row?;
        items.push(SealedItem::WebhookSecret { id, sealed });
    }
    // Under each older key id through the key_id index: a scan for `key_id <> primary`
    // would walk every row already re-sealed, at every batch.
    let older: Vec<String> = sealed_key_ids(conn)?.into_iter().filter(|k| k != primary).collect();
    let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE key_id = ?1 ORDER BY key_id LIMIT ?2");
    for key_id in &older {
        let room = i64::from(limit) - items.len() as i64;
        if room <= 0 {
            return Ok(items);
        }
        let mut stmt = conn.prepare_cached(&sql)?;
        for row in stmt.query_map(params![key_id, room], rows::credential)? {
            items.push(SealedItem::Credential(row?.try_into()?));
        }
    }
    let sql = format!(
        "SELECT {} FROM credential_versions WHERE key_id = ?1 ORDER BY key_id LIMIT ?2",
        crate::rows::VERSION_COLUMNS
    );
    for key_id in &older {
        let room = i64::from(limit) - items.len() as i64;
        if room <= 0 {
            return Ok(items);
        }
        let found = conn
            .prepare_cached(&sql)?
            .query_map(params![key_id, room], rows::version)?
            .collect::<Result<Vec<_>, _>>()?;
        for row in found {
            let version = crate::rows::version_from_row(row)?;
            if let Some(credential) = credentials::get(conn, &version.credential_id.to_string())? {
                items.push(SealedItem::Version { credential, version });
            }
        }
    }
    Ok(items)
}

/// Writes each envelope if its row still holds the one it was made from; a SQLite
/// write transaction holds the whole database, so no row order needs keeping.
pub(crate) fn reseal(conn: &mut Connection, items: &[Reseal]) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut written = 0;
    for item in items {
        let done = match &item.target {
            ResealTarget::Credential(id) => tx
                .prepare_cached(
                    "UPDATE credentials SET key_id = ?1, sealed = ?2, revision = revision + 1 WHERE id = ?3 AND sealed = ?4",
                )?
                .execute(params![item.key_id, item.sealed, id.to_string(), item.old])?,
            ResealTarget::Version(id, version) => tx
                .prepare_cached(concat!(
                    "UPDATE credential_versions SET key_id = ?1, sealed = ?2 ",
                    "WHERE credential_id = ?3 AND version = ?4 AND sealed = ?5"
                ))?
                .execute(params![item.key_id, item.sealed, id.to_string(), version, item.old])?,
            ResealTarget::AuditKey => tx
                .prepare_cached("UPDATE audit_key SET key_id = ?1, sealed = ?2 WHERE id = 1 AND sealed = ?3")?
                .execute(params![item.key_id, item.sealed, item.old])?,
            ResealTarget::WebhookSecret(id) => tx
                .prepare_cached("UPDATE webhooks SET key_id = ?1, sealed = ?2 WHERE id = ?3 AND sealed = ?4")?
                .execute(params![item.key_id, item.sealed, id, item.old])?,
        };
        written += done as u64;
    }
    tx.commit()?;
    Ok(written)
}

pub(crate) fn count_sealed_elsewhere(conn: &Connection, primary: &str) -> Result<i64, StoreError> {
    let count = conn
        .prepare_cached(concat!(
            "SELECT (SELECT count(*) FROM credentials WHERE key_id <> ?1) ",
            "+ (SELECT count(*) FROM credential_versions WHERE key_id <> ?1) ",
            "+ (SELECT count(*) FROM audit_key WHERE key_id <> ?1) ",
            "+ (SELECT count(*) FROM webhooks WHERE key_id <> ?1)"
        ))?
        .query_row([primary], |r| r.get(0))?;
    Ok(count)
}
