//! The SQL both engines share. The statements are portable (numbered `$n` parameters,
//! `RETURNING`, integer timestamps, JSON as text), so one body serves SQLite and
//! PostgreSQL; `impl_sql_store!` stamps it onto each engine's store type.

macro_rules! credential_columns {
    () => {
        "id, owner, provider, label, config, secret_hints, key_id, sealed, status, status_message, last_tested_at, \
         last_used_at, enabled, priority, monthly_limit, usage_total, usage_period, period_start, version, revision, \
         created_at, updated_at"
    };
}

macro_rules! impl_sql_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            async fn ping(&self) -> Result<(), $crate::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn key_checks(&self) -> Result<Vec<$crate::KeyCheckRecord>, $crate::StoreError> {
                let rows: Vec<(String, Vec<u8>)> =
                    sqlx::query_as("SELECT key_id, check_value FROM key_checks ORDER BY key_id").fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(key_id, check)| $crate::KeyCheckRecord { key_id, check }).collect())
            }

            async fn insert_key_check(
                &self,
                check: &$crate::KeyCheckRecord,
                now: byok_core::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO key_checks (key_id, check_value, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (key_id) DO NOTHING",
                )
                .bind(&check.key_id)
                .bind(&check.check)
                .bind(now.millis())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn sealed_key_ids(&self) -> Result<Vec<String>, $crate::StoreError> {
                let rows: Vec<(String,)> =
                    sqlx::query_as("SELECT DISTINCT key_id FROM credentials ORDER BY key_id").fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(k,)| k).collect())
            }

            async fn insert_token(&self, t: &byok_core::Token) -> Result<(), $crate::StoreError> {
                let orgs: Vec<&str> = t.manage_orgs.iter().map(|o| o.as_str()).collect();
                sqlx::query(
                    "INSERT INTO tokens (id, hash, role, owner, manage_orgs, name, created_at, expires_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(t.id.to_string())
                .bind(&t.hash)
                .bind(t.role.as_str())
                .bind(t.owner.as_ref().map(|o| o.to_string()))
                .bind($crate::rows::to_json(&orgs))
                .bind(&t.name)
                .bind(t.created_at.millis())
                .bind(t.expires_at.map(|e| e.millis()))
                .bind(t.revoked_at.map(|e| e.millis()))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<byok_core::Token>, $crate::StoreError> {
                let row: Option<$crate::rows::TokenRow> = sqlx::query_as("SELECT * FROM tokens WHERE hash = $1")
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn get_token(&self, id: &byok_core::TokenId) -> Result<Option<byok_core::Token>, $crate::StoreError> {
                let row: Option<$crate::rows::TokenRow> = sqlx::query_as("SELECT * FROM tokens WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn revoke_token(
                &self,
                id: &byok_core::TokenId,
                now: byok_core::Timestamp,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now.millis())
                    .bind(id.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_credential(&self, c: &byok_core::Credential) -> Result<(), $crate::StoreError> {
                sqlx::query(concat!(
                    "INSERT INTO credentials (id, owner, provider, label, config, secret_hints, key_id, sealed, status, ",
                    "status_message, last_tested_at, last_used_at, enabled, priority, monthly_limit, usage_total, ",
                    "usage_period, period_start, version, revision, created_at, updated_at) ",
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
                ))
                .bind(c.id.to_string())
                .bind(c.owner.to_string())
                .bind(c.provider.as_str())
                .bind(c.label.as_str())
                .bind($crate::rows::to_json(&c.config))
                .bind($crate::rows::to_json(&c.secret_hints))
                .bind(&c.key_id)
                .bind(&c.sealed)
                .bind(c.status.as_str())
                .bind(&c.status_message)
                .bind(c.last_tested_at.map(|t| t.millis()))
                .bind(c.last_used_at.map(|t| t.millis()))
                .bind(c.enabled)
                .bind(c.priority)
                .bind(c.monthly_limit)
                .bind(c.usage_total)
                .bind(c.usage_period)
                .bind(c.period_start.millis())
                .bind(c.version)
                .bind(c.revision)
                .bind(c.created_at.millis())
                .bind(c.updated_at.millis())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_credential(
                &self,
                id: &byok_core::CredentialId,
            ) -> Result<Option<byok_core::Credential>, $crate::StoreError> {
                let sql = concat!("SELECT ", credential_columns!(), " FROM credentials WHERE id = $1");
                let row: Option<$crate::rows::CredentialRow> =
                    sqlx::query_as(sql).bind(id.to_string()).fetch_optional(&self.pool).await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_credentials(
                &self,
                filter: &$crate::CredentialFilter,
            ) -> Result<Vec<byok_core::Credential>, $crate::StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(concat!(
                    "SELECT ",
                    credential_columns!(),
                    " FROM credentials WHERE 1 = 1"
                ));
                if let Some(owners) = &filter.owners {
                    if owners.is_empty() {
                        return Ok(Vec::new());
                    }
                    q.push(" AND owner IN (");
                    let mut sep = q.separated(", ");
                    for owner in owners {
                        sep.push_bind(owner.to_string());
                    }
                    q.push(")");
                }
                if let Some(provider) = &filter.provider {
                    q.push(" AND provider = ").push_bind(provider.as_str().to_owned());
                }
                if filter.exclude_platform {
                    q.push(" AND owner <> 'platform'");
                }
                if let Some(after) = &filter.after {
                    q.push(" AND id > ").push_bind(after.to_string());
                }
                q.push(" ORDER BY id LIMIT ").push_bind(i64::from(filter.limit));
                let rows: Vec<$crate::rows::CredentialRow> = q.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn update_credential(&self, c: &byok_core::Credential) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(concat!(
                    "UPDATE credentials SET label = $1, config = $2, secret_hints = $3, key_id = $4, sealed = $5, ",
                    "status = $6, status_message = $7, last_tested_at = $8, enabled = $9, priority = $10, ",
                    "monthly_limit = $11, version = $12, updated_at = $13, revision = revision + 1 ",
                    "WHERE id = $14 AND revision = $15"
                ))
                .bind(c.label.as_str())
                .bind($crate::rows::to_json(&c.config))
                .bind($crate::rows::to_json(&c.secret_hints))
                .bind(&c.key_id)
                .bind(&c.sealed)
                .bind(c.status.as_str())
                .bind(&c.status_message)
                .bind(c.last_tested_at.map(|t| t.millis()))
                .bind(c.enabled)
                .bind(c.priority)
                .bind(c.monthly_limit)
                .bind(c.version)
                .bind(c.updated_at.millis())
                .bind(c.id.to_string())
                .bind(c.revision)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_credential(&self, id: &byok_core::CredentialId) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("DELETE FROM credentials WHERE id = $1").bind(id.to_string()).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use {credential_columns, impl_sql_store};
