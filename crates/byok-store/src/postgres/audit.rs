//! The audit log on PostgreSQL: its key, its chains, listings and pruning. Entries
//! written with units and counts go through the metering writer (`writer.rs`).

use byok_core::{AuditRecord, Timestamp};
use deadpool_postgres::GenericClient;

use super::query::Query;
use super::{Client, change, rows};
use crate::audit_rows::AUDIT_COLUMNS;
use crate::filters;
use crate::shared_sql::{AUDIT_CHAINS, AUDIT_KEY, PRUNED_HEADS};
use crate::{AuditFilter, PrunedHead, StoreError};

pub(crate) async fn key(c: &impl GenericClient) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let row = c.query_opt(&c.prepare_cached(AUDIT_KEY).await?, &[]).await?;
    Ok(row.map(|r| r.try_get(0).and_then(|id| Ok((id, r.try_get(1)?)))).transpose()?)
}

pub(crate) async fn insert_key(c: &impl GenericClient, key_id: &str, sealed: &[u8]) -> Result<(), StoreError> {
    let sql = "INSERT INTO audit_key (id, key_id, sealed) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING";
    c.execute(&c.prepare_cached(sql).await?, &[&key_id, &sealed]).await?;
    Ok(())
}

pub(crate) async fn start_chain(client: &mut Client, genesis: &AuditRecord) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    let sql = "INSERT INTO audit_chains (chain, started_at) VALUES ($1, $2)";
    tx.execute(&tx.prepare_cached(sql).await?, &[&genesis.chain, &genesis.at.millis()]).await?;
    change::insert_audit(&tx, std::slice::from_ref(genesis)).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn chains(c: &impl GenericClient) -> Result<Vec<String>, StoreError> {
    let found = c.query(&c.prepare_cached(AUDIT_CHAINS).await?, &[]).await?;
    Ok(found.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}

pub(crate) async fn chain_entries(
    c: &impl GenericClient,
    chain: &str,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3");
    let found = c.query(&c.prepare_cached(&sql).await?, &[&chain, &after_seq, &i64::from(limit)]).await?;
    Ok(found.iter().map(|r| rows::audit(r).map(Into::into)).collect::<Result<_, _>>()?)
}

pub(crate) async fn list(c: &impl GenericClient, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
    let mut q = Query::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE true"));
    filters::audit(&mut q, f);
    Ok(q.rows(c).await?.iter().map(|r| rows::audit(r).map(Into::into)).collect::<Result<_, _>>()?)
}

pub(crate) async fn pruned_heads(c: &impl GenericClient) -> Result<Vec<PrunedHead>, StoreError> {
    let found = c.query(&c.prepare_cached(PRUNED_HEADS).await?, &[]).await?;
    let heads = found.iter().map(|r| {
        Ok(PrunedHead {
            chain: r.try_get(0)?,
            seq: r.try_get(1)?,
            mac: r.try_get(2)?,
            attestation: r.try_get(3)?,
            pruned_at: Timestamp::from_millis(r.try_get(4)?),
        })
    });
    heads.collect::<Result<_, tokio_postgres::Error>>().map_err(Into::into)
}

pub(crate) async fn prune(client: &mut Client, heads: &[PrunedHead]) -> Result<u64, StoreError> {
    let tx = client.transaction().await?;
    let delete = tx.prepare_cached("DELETE FROM audit_log WHERE chain = $1 AND seq <= $2").await?;
    let record = tx
        .prepare_cached(concat!(
            "INSERT INTO audit_pruned_heads (chain, seq, mac, attestation, pruned_at) ",
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, ",
            "mac = excluded.mac, attestation = excluded.attestation, pruned_at = excluded.pruned_at ",
            "WHERE audit_pruned_heads.seq < excluded.seq"
        ))
        .await?;
    let mut removed = 0;
    for head in heads {
        removed += tx.execute(&delete, &[&head.chain, &head.seq]).await?;
        tx.execute(&record, &[&head.chain, &head.seq, &head.mac, &head.attestation, &head.pruned_at.millis()]).await?;
    }
    tx.commit().await?;
    Ok(removed)
}
