//! [`ProxyStore`] on PostgreSQL. Units taken or given back by key are one statement each
//! through the pool (the row's lock orders concurrent takes); counts are one
//! transaction per batch (`usage_counts.rs`).

use async_trait::async_trait;
use byok_core::{
    AuditRecord, Credential, CredentialId, Owner, ProviderId, Timestamp, TokenId, VirtualKey, VirtualKeyUsage,
};

use super::{PgStore, rows};
use crate::filters;
use crate::proxy_rows::{UsageRow, credential_tokens, virtual_key};
use crate::rows::CREDENTIAL_COLUMNS;
use crate::{CredentialTokens, ProxyStore, ProxyUsage, StoreError};

#[async_trait]
impl ProxyStore for PgStore {
    async fn virtual_key(&self, token_id: &TokenId) -> Result<Option<VirtualKey>, StoreError> {
        let client = self.client().await?;
        let sql = concat!(
            "SELECT token_id, providers, monthly_limit, models, monthly_token_limit, rate_limit_per_minute ",
            "FROM virtual_keys WHERE token_id = $1"
        );
        let Some(r) = client.query_opt(&client.prepare_cached(sql).await?, &[&token_id.to_string()]).await? else {
            return Ok(None);
        };
        let row = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?);
        virtual_key(row).map(Some)
    }

    async fn virtual_key_usage(
        &self,
        token_id: &TokenId,
        period: Timestamp,
    ) -> Result<Option<VirtualKeyUsage>, StoreError> {
        let client = self.client().await?;
        let sql = concat!(
            "SELECT usage_total, usage_period, period_start, tokens_total, tokens_period, last_used_at ",
            "FROM virtual_keys WHERE token_id = $1"
        );
        let Some(r) = client.query_opt(&client.prepare_cached(sql).await?, &[&token_id.to_string()]).await? else {
            return Ok(None);
        };
        let row = UsageRow {
            usage_total: r.try_get(0)?,
            usage_period: r.try_get(1)?,
            period_start: r.try_get(2)?,
            tokens_total: r.try_get(3)?,
            tokens_period: r.try_get(4)?,
            last_used_at: r.try_get(5)?,
        };
        Ok(Some(row.usage(period)))
    }

    async fn take_virtual_unit(
        &self,
        token_id: &TokenId,
        period: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        // One statement: the WHERE re-checks the limit on the row it updates, so
        // concurrent takes never grant more than the limit.
        let changed = self
            .unit_statement(
                concat!(
                    "UPDATE virtual_keys SET usage_total = usage_total + 1, ",
                    "usage_period = CASE WHEN period_start >= $2 THEN usage_period + 1 ELSE 1 END, ",
                    "tokens_period = CASE WHEN period_start >= $2 THEN tokens_period ELSE 0 END, ",
                    "period_start = CASE WHEN period_start >= $2 THEN period_start ELSE $2 END, ",
                    "last_used_at = $3 ",
                    "WHERE token_id = $1 AND (monthly_limit IS NULL OR period_start < $2 OR usage_period < monthly_limit)"
                ),
                vec![token_id.to_string().into(), period.millis().into(), now.millis().into()],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn return_virtual_unit(&self, token_id: &TokenId, period: Timestamp) -> Result<(), StoreError> {
        self.unit_statement(
            concat!(
                "UPDATE virtual_keys SET usage_total = usage_total - 1, usage_period = usage_period - 1 ",
                "WHERE token_id = $1 AND period_start = $2 AND usage_period > 0"
            ),
            vec![token_id.to_string().into(), period.millis().into()],
        )
        .await?;
        Ok(())
    }

    async fn take_unit_of(&self, id: &CredentialId, period: Timestamp, now: Timestamp) -> Result<bool, StoreError> {
        let changed = self
            .unit_statement(
                concat!(
                    "UPDATE credentials SET usage_total = usage_total + 1, usage_period = usage_period + 1, ",
                    "last_used_at = $3 WHERE id = $1 AND enabled = TRUE AND status <> 'error' AND period_start >= $2 ",
                    "AND (monthly_limit IS NULL OR usage_period < monthly_limit) ",
                    "AND (monthly_token_limit IS NULL OR NOT EXISTS (SELECT 1 FROM credential_tokens t ",
                    "WHERE t.credential_id = credentials.id AND t.period_start >= $2 ",
                    "AND t.tokens_period >= monthly_token_limit))"
                ),
                vec![id.to_string().into(), period.millis().into(), now.millis().into()],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn return_unit_of(&self, id: &CredentialId, period: Timestamp) -> Result<(), StoreError> {
        self.unit_statement(
            concat!(
                "UPDATE credentials SET usage_total = usage_total - 1, usage_period = usage_period - 1 ",
                "WHERE id = $1 AND period_start = $2 AND usage_period > 0"
            ),
            vec![id.to_string().into(), period.millis().into()],
        )
        .await?;
        Ok(())
    }

    async fn lease_minute_units(&self, subject: &str, window_start: i64, limit: i64) -> Result<i64, StoreError> {
        let client = self.client().await?;
        // SET expressions read the row as it was: `granted` is this lease.
        let lease = concat!(
            "INSERT INTO minute_windows (subject, window_start, used, granted) VALUES ($1, $2, ",
            "CASE WHEN $3::bigint / 8 > 1 THEN $3::bigint / 8 ELSE 1 END, ",
            "CASE WHEN $3::bigint / 8 > 1 THEN $3::bigint / 8 ELSE 1 END) ",
            "ON CONFLICT (subject, window_start) DO UPDATE SET ",
            "granted = CASE WHEN ($3::bigint - minute_windows.used) / 8 > 1 ",
            "THEN ($3::bigint - minute_windows.used) / 8 ELSE 1 END, ",
            "used = minute_windows.used + CASE WHEN ($3::bigint - minute_windows.used) / 8 > 1 ",
            "THEN ($3::bigint - minute_windows.used) / 8 ELSE 1 END ",
            "WHERE minute_windows.used < $3::bigint RETURNING granted"
        );
        let granted =
            client.query_opt(&client.prepare_cached(lease).await?, &[&subject, &window_start, &limit]).await?;
        let old = "DELETE FROM minute_windows WHERE subject = $1 AND window_start < $2";
        client.execute(&client.prepare_cached(old).await?, &[&subject, &window_start]).await?;
        Ok(granted.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    async fn unlimited_pick(
        &self,
        owner: &Owner,
        provider: &ProviderId,
        period: Timestamp,
    ) -> Result<Option<Credential>, StoreError> {
        let client = self.client().await?;
        // The same choice as take_unit's: the best usable credential of the period.
        let sql = format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE owner = $1 AND provider = $2 AND enabled = TRUE \
             AND status <> 'error' AND period_start >= $3 AND (monthly_limit IS NULL OR usage_period < monthly_limit) \
             AND (monthly_token_limit IS NULL OR NOT EXISTS (SELECT 1 FROM credential_tokens t \
             WHERE t.credential_id = credentials.id AND t.period_start >= $3 \
             AND t.tokens_period >= monthly_token_limit)) ORDER BY priority, id LIMIT 1"
        );
        let args: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&owner.to_string(), &provider.as_str(), &period.millis()];
        let row = client.query_opt(&client.prepare_cached(&sql).await?, &args).await?;
        let pick: Option<Credential> = row.map(|r| rows::credential(&r)?.try_into()).transpose()?;
        Ok(pick.filter(|c| !c.is_limited()))
    }

    async fn record_proxy_usage(
        &self,
        usage: &ProxyUsage,
        period: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write_proxy_usage(usage, period, now).await
    }

    async fn append_counted_audit(
        &self,
        records: &[AuditRecord],
        usage: &ProxyUsage,
        period: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write_counted_audit(records, usage, period, now).await
    }

    async fn credential_tokens(&self, ids: &[CredentialId]) -> Result<Vec<CredentialTokens>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let ids = filters::ids(ids);
        let sql = "SELECT credential_id, tokens_total, tokens_period, period_start FROM credential_tokens \
                   WHERE credential_id = ANY($1)";
        let found = client.query(&client.prepare_cached(sql).await?, &[&ids]).await?;
        found.iter().map(|r| credential_tokens((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect()
    }
}
