//! Counts of uses made without a limit, and units taken by key, on PostgreSQL: through
//! the pool, counts in one transaction per batch of the server's usage writer
//! (PostgreSQL locks rows, not the database, so it needs no single writer as SQLite
//! does: `sqlite/usage_counts.rs`).

use byok_core::{AuditRecord, CredentialId, Timestamp};
use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::{PgStore, change, locks};
use crate::group_commit::Arg;
use crate::{ProxyUsage, StoreError};

impl PgStore {
    /// Runs one statement that takes or gives back a unit by key, through the pool (the
    /// row's lock orders concurrent takes); answers the rows it changed.
    pub(crate) async fn unit_statement(&self, sql: &'static str, args: Vec<Arg>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let args: Vec<&(dyn ToSql + Sync)> = args
            .iter()
            .map(|arg| match arg {
                Arg::Text(text) => text as &(dyn ToSql + Sync),
                Arg::Int(n) => n as &(dyn ToSql + Sync),
            })
            .collect();
        Ok(client.execute(&client.prepare_cached(sql).await?, &args).await?)
    }

    /// Adds finished requests' counts in one transaction (see
    /// [`crate::ProxyStore::record_proxy_usage`]).
    pub(crate) async fn write_proxy_usage(
        &self,
        usage: &ProxyUsage,
        period: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write_counted_audit(&[], usage, period, now).await
    }

    /// Appends spooled audit records (if any) with the requests they count, in one
    /// transaction through the pool (see [`crate::ProxyStore::append_counted_audit`]).
    pub(crate) async fn write_counted_audit(
        &self,
        records: &[AuditRecord],
        usage: &ProxyUsage,
        period: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        add_counts(&tx, usage, period, now).await?;
        change::insert_audit(&tx, records).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Adds `usage` in `tx` with one statement per kind of counter (a batch holds hundreds
/// of rows: one statement each was most of the server's time under resolve load; an id
/// given twice is summed), the rows locked first in the one order of every writer.
async fn add_counts(
    tx: &Transaction<'_>,
    usage: &ProxyUsage,
    period: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    let credentials = usage.credential_requests.iter().chain(&usage.credential_tokens);
    locks::lock_credentials(tx, &credentials.map(|(id, _)| id.to_string()).collect::<Vec<_>>()).await?;
    if !usage.credential_requests.is_empty() {
        let (ids, counts) = columns(&usage.credential_requests);
        tx.execute(&tx.prepare_cached(CREDENTIAL_REQUESTS).await?, &[&ids, &counts, &now.millis()]).await?;
    }
    if !usage.credential_tokens.is_empty() {
        let (ids, tokens) = columns(&usage.credential_tokens);
        tx.execute(&tx.prepare_cached(CREDENTIAL_TOKENS).await?, &[&ids, &tokens, &period.millis()]).await?;
    }
    if !usage.virtual_keys.is_empty() {
        let ids: Vec<String> = usage.virtual_keys.iter().map(|d| d.token_id.to_string()).collect();
        if ids.len() > 1 {
            tx.execute(&tx.prepare_cached(LOCK_VIRTUAL_KEYS).await?, &[&ids]).await?;
        }
        let requests: Vec<i64> = usage.virtual_keys.iter().map(|d| d.requests).collect();
        let tokens: Vec<i64> = usage.virtual_keys.iter().map(|d| d.tokens).collect();
        tx.execute(
            &tx.prepare_cached(VIRTUAL_KEYS).await?,
            &[&ids, &requests, &tokens, &period.millis(), &now.millis()],
        )
        .await?;
    }
    Ok(())
}

/// Ids and counts as two arrays, for `unnest`.
fn columns(rows: &[(CredentialId, i64)]) -> (Vec<String>, Vec<i64>) {
    rows.iter().map(|(id, n)| (id.to_string(), *n)).unzip()
}

const CREDENTIAL_REQUESTS: &str = concat!(
    "UPDATE credentials SET usage_total = usage_total + d.n, usage_period = usage_period + d.n, last_used_at = $3 ",
    "FROM (SELECT id, CAST(sum(n) AS BIGINT) AS n FROM unnest($1::text[], $2::bigint[]) AS u(id, n) GROUP BY id) AS d ",
    "WHERE credentials.id = d.id"
);

// Sums are held at the largest BIGINT instead of overflowing (which would fail the batch).
const CREDENTIAL_TOKENS: &str = concat!(
    "INSERT INTO credential_tokens (credential_id, tokens_total, tokens_period, period_start) ",
    "SELECT c.id, d.n, d.n, CAST($3 AS BIGINT) ",
    "FROM (SELECT id, CAST(sum(n) AS BIGINT) AS n FROM unnest($1::text[], $2::bigint[]) AS u(id, n) GROUP BY id) AS d ",
    "JOIN credentials c ON c.id = d.id ",
    "ON CONFLICT (credential_id) DO UPDATE SET tokens_total = ",
    "CASE WHEN credential_tokens.tokens_total > 9223372036854775807 - excluded.tokens_total ",
    "THEN 9223372036854775807 ELSE credential_tokens.tokens_total + excluded.tokens_total END, ",
    "tokens_period = CASE WHEN credential_tokens.period_start >= excluded.period_start THEN ",
    "CASE WHEN credential_tokens.tokens_period > 9223372036854775807 - excluded.tokens_period ",
    "THEN 9223372036854775807 ELSE credential_tokens.tokens_period + excluded.tokens_period END ",
    "ELSE excluded.tokens_period END, ",
    "period_start = CASE WHEN credential_tokens.period_start >= excluded.period_start ",
    "THEN credential_tokens.period_start ELSE excluded.period_start END"
);

/// Virtual keys' rows in one order (their ids'), so two writers cannot deadlock.
const LOCK_VIRTUAL_KEYS: &str =
    "SELECT token_id FROM virtual_keys WHERE token_id = ANY($1) ORDER BY token_id COLLATE \"C\" FOR UPDATE";

const VIRTUAL_KEYS: &str = concat!(
    "UPDATE virtual_keys SET usage_total = usage_total + d.requests, tokens_total = ",
    "CASE WHEN tokens_total > 9223372036854775807 - d.tokens THEN 9223372036854775807 ELSE tokens_total + d.tokens END, ",
    "usage_period = CASE WHEN period_start >= $4 THEN usage_period + d.requests ELSE d.requests END, ",
    "tokens_period = CASE WHEN period_start >= $4 THEN ",
    "CASE WHEN tokens_period > 9223372036854775807 - d.tokens THEN 9223372036854775807 ELSE tokens_period + d.tokens END ",
    "ELSE d.tokens END, ",
    "period_start = CASE WHEN period_start >= $4 THEN period_start ELSE $4 END, ",
    "last_used_at = CASE WHEN d.requests > 0 THEN $5 ELSE last_used_at END ",
    "FROM (SELECT token_id, CAST(sum(requests) AS BIGINT) AS requests, CAST(sum(tokens) AS BIGINT) AS tokens ",
    "FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(token_id, requests, tokens) GROUP BY token_id) AS d ",
    "WHERE virtual_keys.token_id = d.token_id"
);
