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
        let mut tx = self.pool.begin().await?;
        Self::add_counts(&mut tx, usage, period, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends spooled audit records with the requests they count, in one transaction
    /// through the pool (see [`crate::ProxyStore::append_counted_audit`]).
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

    /// Adds `usage` in `tx`, the credentials locked first in the one order of every writer.
    async fn add_counts(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        usage: &crate::ProxyUsage,
        period: byok_core::Timestamp,
        now: byok_core::Timestamp,
    ) -> Result<(), crate::StoreError> {
        let credentials = usage.credential_requests.iter().chain(&usage.credential_tokens);
        Self::lock_credentials(tx, &credentials.map(|(id, _)| id.to_string()).collect::<Vec<_>>()).await?;
        for (id, n) in &usage.credential_requests {
            sqlx::query(concat!(
                "UPDATE credentials SET usage_total = usage_total + $2, usage_period = usage_period + $2, ",
                "last_used_at = $3 WHERE id = $1"
            ))
            .bind(id.to_string())
            .bind(*n)
            .bind(now.millis())
            .execute(&mut **tx)
            .await?;
        }
        for (id, tokens) in &usage.credential_tokens {
            sqlx::query(concat!(
                "INSERT INTO credential_tokens (credential_id, tokens_total, tokens_period, period_start) ",
                "SELECT id, CAST($2 AS BIGINT), CAST($2 AS BIGINT), CAST($3 AS BIGINT) FROM credentials WHERE id = $1 ",
                "ON CONFLICT (credential_id) DO UPDATE SET ",
                "tokens_total = ",
                crate::proxy_sql::saturating_add!("credential_tokens.tokens_total", "excluded.tokens_total"),
                ", tokens_period = CASE WHEN credential_tokens.period_start >= excluded.period_start THEN ",
                crate::proxy_sql::saturating_add!("credential_tokens.tokens_period", "excluded.tokens_period"),
                " ELSE excluded.tokens_period END, ",
                "period_start = CASE WHEN credential_tokens.period_start >= excluded.period_start ",
                "THEN credential_tokens.period_start ELSE excluded.period_start END"
            ))
            .bind(id.to_string())
            .bind(*tokens)
            .bind(period.millis())
            .execute(&mut **tx)
            .await?;
        }
        let mut keys = usage.virtual_keys.clone();
        keys.sort_by_key(|d| d.token_id);
        for d in keys {
            sqlx::query(concat!(
                "UPDATE virtual_keys SET usage_total = usage_total + $2, tokens_total = ",
                crate::proxy_sql::saturating_add!("tokens_total", "$3"),
                ", usage_period = CASE WHEN period_start >= $4 THEN usage_period + $2 ELSE $2 END, ",
                "tokens_period = CASE WHEN period_start >= $4 THEN ",
                crate::proxy_sql::saturating_add!("tokens_period", "$3"),
                " ELSE $3 END, ",
                "period_start = CASE WHEN period_start >= $4 THEN period_start ELSE $4 END, ",
                "last_used_at = CASE WHEN $2 > 0 THEN $5 ELSE last_used_at END ",
                "WHERE token_id = $1"
            ))
            .bind(d.token_id.to_string())
            .bind(d.requests)
            .bind(d.tokens)
            .bind(period.millis())
            .bind(now.millis())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}
