//! The SQL of [`crate::ProxyStore`], shared by both engines like `sql_store.rs`:
//! `impl_proxy_store!` stamps it onto each engine's store type.

/// `a + b` for a non-negative `b`, held at the largest BIGINT instead of overflowing
/// (PostgreSQL would fail the batch; SQLite would turn the column into a float).
macro_rules! saturating_add {
    ($a:literal, $b:literal) => {
        concat!(
            "CASE WHEN ",
            $a,
            " > 9223372036854775807 - ",
            $b,
            " THEN 9223372036854775807 ELSE ",
            $a,
            " + ",
            $b,
            " END"
        )
    };
}

macro_rules! impl_proxy_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::ProxyStore for $store {
            // Units taken or given back by key go through `unit_statement`: on SQLite
            // the writer thread, the database's one writer.
            async fn virtual_key(
                &self,
                token_id: &byok_core::TokenId,
            ) -> Result<Option<byok_core::VirtualKey>, $crate::StoreError> {
                let row: Option<$crate::proxy_rows::VirtualKeyRow> = sqlx::query_as(concat!(
                    "SELECT token_id, providers, monthly_limit, models, monthly_token_limit, rate_limit_per_minute ",
                    "FROM virtual_keys WHERE token_id = $1"
                ))
                        .bind(token_id.to_string())
                        .fetch_optional(&self.pool)
                        .await?;
                row.map($crate::proxy_rows::virtual_key).transpose()
            }

            async fn virtual_key_usage(
                &self,
                token_id: &byok_core::TokenId,
                period: byok_core::Timestamp,
            ) -> Result<Option<byok_core::VirtualKeyUsage>, $crate::StoreError> {
                let row: Option<$crate::proxy_rows::UsageRow> = sqlx::query_as(concat!(
                    "SELECT usage_total, usage_period, period_start, tokens_total, tokens_period, last_used_at ",
                    "FROM virtual_keys WHERE token_id = $1"
                ))
                .bind(token_id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|r| r.usage(period)))
            }

            async fn take_virtual_unit(
                &self,
                token_id: &byok_core::TokenId,
                period: byok_core::Timestamp,
                now: byok_core::Timestamp,
            ) -> Result<bool, $crate::StoreError> {
                // One statement: the WHERE re-checks the limit on the row it updates, so
                // concurrent takes never grant more than the limit.
                let changed = self.unit_statement(
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

            async fn take_unit_of(
                &self,
                id: &byok_core::CredentialId,
                period: byok_core::Timestamp,
                now: byok_core::Timestamp,
            ) -> Result<bool, $crate::StoreError> {
                let changed = self.unit_statement(
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

            async fn return_unit_of(
                &self,
                id: &byok_core::CredentialId,
                period: byok_core::Timestamp,
            ) -> Result<(), $crate::StoreError> {
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

            async fn lease_minute_units(
                &self,
                subject: &str,
                window_start: i64,
                limit: i64,
            ) -> Result<i64, $crate::StoreError> {
                // SET expressions read the row as it was: `granted` is this lease.
                let granted: Option<i64> = sqlx::query_scalar(concat!(
                    "INSERT INTO minute_windows (subject, window_start, used, granted) VALUES ($1, $2, ",
                    "CASE WHEN $3 / 8 > 1 THEN $3 / 8 ELSE 1 END, CASE WHEN $3 / 8 > 1 THEN $3 / 8 ELSE 1 END) ",
                    "ON CONFLICT (subject, window_start) DO UPDATE SET ",
                    "granted = CASE WHEN ($3 - minute_windows.used) / 8 > 1 THEN ($3 - minute_windows.used) / 8 ELSE 1 END, ",
                    "used = minute_windows.used + CASE WHEN ($3 - minute_windows.used) / 8 > 1 ",
                    "THEN ($3 - minute_windows.used) / 8 ELSE 1 END ",
                    "WHERE minute_windows.used < $3 RETURNING granted"
                ))
                .bind(subject)
                .bind(window_start)
                .bind(limit)
                .fetch_optional(&self.pool)
                .await?;
                sqlx::query("DELETE FROM minute_windows WHERE subject = $1 AND window_start < $2")
                    .bind(subject)
                    .bind(window_start)
                    .execute(&self.pool)
                    .await?;
                Ok(granted.unwrap_or(0))
            }

            async fn return_virtual_unit(
                &self,
                token_id: &byok_core::TokenId,
                period: byok_core::Timestamp,
            ) -> Result<(), $crate::StoreError> {
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

            async fn unlimited_pick(
                &self,
                owner: &byok_core::Owner,
                provider: &byok_core::ProviderId,
                period: byok_core::Timestamp,
            ) -> Result<Option<byok_core::Credential>, $crate::StoreError> {
                // The same choice as take_unit's: the best usable credential of the period.
                let sql = concat!(
                    "SELECT ",
                    credential_columns!(),
                    " FROM credentials WHERE owner = $1 AND provider = $2 AND enabled = TRUE AND status <> 'error' ",
                    "AND period_start >= $3 AND (monthly_limit IS NULL OR usage_period < monthly_limit) ",
                    "AND (monthly_token_limit IS NULL OR NOT EXISTS (SELECT 1 FROM credential_tokens t ",
                    "WHERE t.credential_id = credentials.id AND t.period_start >= $3 ",
                    "AND t.tokens_period >= monthly_token_limit)) ",
                    "ORDER BY priority, id LIMIT 1"
                );
                let row: Option<$crate::rows::CredentialRow> = sqlx::query_as(sql)
                    .bind(owner.to_string())
                    .bind(provider.as_str())
                    .bind(period.millis())
                    .fetch_optional(&self.pool)
                    .await?;
                let pick: Option<byok_core::Credential> = row.map(TryInto::try_into).transpose()?;
                Ok(pick.filter(|c| !c.is_limited()))
            }

            async fn record_proxy_usage(
                &self,
                usage: &$crate::ProxyUsage,
                period: byok_core::Timestamp,
                now: byok_core::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                self.write_proxy_usage(usage, period, now).await
            }

            async fn append_counted_audit(
                &self,
                records: &[byok_core::AuditRecord],
                usage: &$crate::ProxyUsage,
                period: byok_core::Timestamp,
                now: byok_core::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                self.write_counted_audit(records, usage, period, now).await
            }

            async fn credential_tokens(
                &self,
                ids: &[byok_core::CredentialId],
            ) -> Result<Vec<$crate::CredentialTokens>, $crate::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT credential_id, tokens_total, tokens_period, period_start FROM credential_tokens WHERE credential_id IN (",
                );
                let mut sep = q.separated(", ");
                for id in ids {
                    sep.push_bind(id.to_string());
                }
                q.push(")");
                let rows: Vec<(String, i64, i64, i64)> = q.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::proxy_rows::credential_tokens).collect()
            }
        }
    };
}

pub(crate) use impl_proxy_store;
pub(crate) use saturating_add;
