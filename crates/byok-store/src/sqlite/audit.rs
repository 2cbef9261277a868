//! The audit log on SQLite: its key, its chains, listings and pruning. Entries written
//! with units and counts go through the writer thread (`writer.rs`).

use byok_core::{AuditRecord, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::query::Query;
use super::{change, rows};
use crate::audit_rows::AUDIT_COLUMNS;
use crate::filters;
use crate::shared_sql::{AUDIT_CHAINS, AUDIT_KEY, PRUNED_HEADS};
use crate::{AuditFilter, PrunedHead, StoreError};

pub(crate) fn key(conn: &Connection) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let key = conn.prepare_cached(AUDIT_KEY)?.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    Ok(key)
}

pub(crate) fn insert_key(conn: &Connection, key_id: &str, sealed: &[u8]) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO audit_key (id, key_id, sealed) VALUES (1, ?1, ?2) ON CONFLICT (id) DO NOTHING")?
        .execute(params![key_id, sealed])?;
    Ok(())
}

pub(crate) fn start_chain(conn: &mut Connection, genesis: &AuditRecord) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached("INSERT INTO audit_chains (chain, started_at) VALUES (?1, ?2)")?
        .execute(params![genesis.chain, genesis.at.millis()])?;
    change::insert_audit(&tx, std::iter::once(genesis))?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn chains(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(AUDIT_CHAINS)?;
    let chains = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(chains)
}

pub(crate) fn chain_entries(
    conn: &Connection,
    chain: &str,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE chain = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
    let mut stmt = conn.prepare_cached(&sql)?;
    let found = stmt.query_map(params![chain, after_seq, i64::from(limit)], rows::audit)?;
    Ok(found.map(|r| r.map(Into::into)).collect::<Result<_, _>>()?)
}

pub(crate) fn list(conn: &Connection, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
    let mut q = Query::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE true"));
    filters::audit(&mut q, f);
    Ok(q.rows(conn, rows::audit)?.into_iter().map(Into::into).collect())
}

pub(crate) fn pruned_heads(conn: &Connection) -> Result<Vec<PrunedHead>, StoreError> {
    let mut stmt = conn.prepare_cached(PRUNED_HEADS)?;
    let heads = stmt.query_map([], |r| {
        Ok(PrunedHead {
            chain: r.get(0)?,
            seq: r.get(1)?,
            mac: r.get(2)?,
            attestation: r.get(3)?,
            pruned_at: Timestamp::from_millis(r.get(4)?),
        })
    })?;
    Ok(heads.collect::<Result<_, _>>()?)
}

pub(crate) fn prune(conn: &mut Connection, heads: &[PrunedHead]) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut removed = 0;
    for head in heads {
        removed += tx
            .prepare_cached("DELETE FROM audit_log WHERE chain = ?1 AND seq <= ?2")?
            .execute(params![head.chain, head.seq])? as u64;
        tx.prepare_cached(concat!(
            "INSERT INTO audit_pruned_heads (chain, seq, mac, attestation, pruned_at) ",
            "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, ",
            "mac = excluded.mac, attestation = excluded.attestation, pruned_at = excluded.pruned_at ",
            "WHERE audit_pruned_heads.seq < excluded.seq"
        ))?
        .execute(params![head.chain, head.seq, head.mac, head.attestation, head.pruned_at.millis()])?;
    }
    tx.commit()?;
    Ok(removed)
}
