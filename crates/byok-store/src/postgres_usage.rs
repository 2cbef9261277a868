//! Counts of uses made without a limit, and units taken by key, on PostgreSQL: through
//! the pool, counts in one transaction per batch of the server's usage writer
//! (PostgreSQL locks rows, not the database, so it needs no single writer as SQLite
//! does: `sqlite_usage.rs`).

use crate::group_commit::Arg;
use crate::postgres::PgStore;

impl PgStore {
    /// Runs one statement that takes or gives back a unit by key, through the pool (the
    /// row's lock orders concurrent takes); answers the rows it changed.
    pub(crate) async fn unit_statement(&self, sql: &'static str, args: Vec<Arg>) -> Result<u64, crate::StoreError> {
        let mut query = sqlx::query(sql);
        for arg in args {
            query = match arg {
                Arg::Text(text) => query.bind(text),
                Arg::Int(n) => query.bind(n),
            };
        }
        Ok(query.execute(&self.pool).await?.rows_affected())
    }

    /// Adds finished requests' counts in one transaction (see
    /// [`crate::ProxyStore::record_proxy_usage`]).
    pub(crate) async fn write_proxy_usage(
        &self,
        usage: &crate::ProxyUsage,
        period: byok_core::Timestamp,
        now: byok_core::Timestamp,
    ) -> Result<(), crate::StoreError> {
        self.write_counted_audit(&[], usage, period, now).await
    }

    /// Appends spooled audit records (if any) with the requests they count, in one
    /// transaction through the pool (see [`crate::ProxyStore::append_counted_audit`]).
    pub(crate) async fn write_counted_audit(
        &self,
        records: &[byok_core::AuditRecord],
        usage: &crate::ProxyUsage,
        period: byok_core::Timestamp,
        now: byok_core::Timestamp,
    ) -> Result<(), crate::StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::add_counts(&mut tx, usage, period, now).await?;
        if !records.is_empty() {
            crate::sql_store::audit_insert!(sqlx::Postgres, records).build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds `usage` in `tx` with one statement per kind of counter (a batch holds hundreds
    /// of rows: one statement each was most of the server's time under resolve load; an id
    /// given twice is summed), the rows locked first in the one order of every writer.
    async fn add_counts(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        usage: &crate::ProxyUsage,
        period: byok_core::Timestamp,
        now: byok_core::Timestamp,
    ) -> Result<(), crate::StoreError> {
        let credentials = usage.credential_requests.iter().chain(&usage.credential_tokens);
        Self::lock_credentials(tx, &credentials.map(|(id, _)| id.to_string()).collect::<Vec<_>>()).await?;
        if !usage.credential_requests.is_empty() {
            let (ids, counts) = columns(&usage.credential_requests);
            sqlx::query(CREDENTIAL_REQUESTS).bind(ids).bind(counts).bind(now.millis()).execute(&mut **tx).await?;
        }
        if !usage.credential_tokens.is_empty() {
            let (ids, tokens) = columns(&usage.credential_tokens);
            sqlx::query(CREDENTIAL_TOKENS).bind(ids).bind(tokens).bind(period.millis()).execute(&mut **tx).await?;
        }
        if !usage.virtual_keys.is_empty() {
            let ids: Vec<String> = usage.virtual_keys.iter().map(|d| d.token_id.to_string()).collect();
            if ids.len() > 1 {
                sqlx::query(LOCK_VIRTUAL_KEYS).bind(&ids).execute(&mut **tx).await?;
            }
            let requests: Vec<i64> = usage.virtual_keys.iter().map(|d| d.requests).collect();
            let tokens: Vec<i64> = usage.virtual_keys.iter().map(|d| d.tokens).collect();
            sqlx::query(VIRTUAL_KEYS)
                .bind(ids)
                .bind(requests)
                .bind(tokens)
                .bind(period.millis())
                .bind(now.millis())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// Ids and counts as two arrays, for `unnest`.
fn columns(rows: &[(byok_core::CredentialId, i64)]) -> (Vec<String>, Vec<i64>) {
    rows.iter().map(|(id, n)| (id.to_string(), *n)).unzip()
}

const CREDENTIAL_REQUESTS: &str = concat!(
    "UPDATE credentials SET usage_total = usage_total + d.n, usage_period = usage_period + d.n, last_used_at = $3 ",
    "FROM (SELECT id, CAST(sum(n) AS BIGINT) AS n FROM unnest($1::text[], $2::bigint[]) AS u(id, n) GROUP BY id) AS d ",
    "WHERE credentials.id = d.id"
);

const CREDENTIAL_TOKENS: &str = concat!(
    "INSERT INTO credential_tokens (credential_id, tokens_total, tokens_period, period_start) ",
    "SELECT c.id, d.n, d.n, CAST($3 AS BIGINT) ",
    "FROM (SELECT id, CAST(sum(n) AS BIGINT) AS n FROM unnest($1::text[], $2::bigint[]) AS u(id, n) GROUP BY id) AS d ",
    "JOIN credentials c ON c.id = d.id ",
    "ON CONFLICT (credential_id) DO UPDATE SET ",
    "tokens_total = ",
    crate::proxy_sql::saturating_add!("credential_tokens.tokens_total", "excluded.tokens_total"),
    ", tokens_period = CASE WHEN credential_tokens.period_start >= excluded.period_start THEN ",
    crate::proxy_sql::saturating_add!("credential_tokens.tokens_period", "excluded.tokens_period"),
    " ELSE excluded.tokens_period END, ",
    "period_start = CASE WHEN credential_tokens.period_start >= excluded.period_start ",
    "THEN credential_tokens.period_start ELSE excluded.period_start END"
);

/// Virtual keys' rows in one order (their ids'), so two writers cannot deadlock.
const LOCK_VIRTUAL_KEYS: &str =
    "SELECT token_id FROM virtual_keys WHERE token_id = ANY($1) ORDER BY token_id COLLATE \"C\" FOR UPDATE";

const VIRTUAL_KEYS: &str = concat!(
    "UPDATE virtual_keys SET usage_total = usage_total + d.requests, tokens_total = ",
    crate::proxy_sql::saturating_add!("tokens_total", "d.tokens"),
    ", usage_period = CASE WHEN period_start >= $4 THEN usage_period + d.requests ELSE d.requests END, ",
    "tokens_period = CASE WHEN period_start >= $4 THEN ",
    crate::proxy_sql::saturating_add!("tokens_period", "d.tokens"),
    " ELSE d.tokens END, ",
    "period_start = CASE WHEN period_start >= $4 THEN period_start ELSE $4 END, ",
    "last_used_at = CASE WHEN d.requests > 0 THEN $5 ELSE last_used_at END ",
    "FROM (SELECT token_id, CAST(sum(requests) AS BIGINT) AS requests, CAST(sum(tokens) AS BIGINT) AS tokens ",
    "FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(token_id, requests, tokens) GROUP BY token_id) AS d ",
    "WHERE virtual_keys.token_id = d.token_id"
);
