//! The SQL both engines share. The statements are portable (numbered `$n` parameters,
//! `RETURNING`, integer timestamps, JSON as text), so one body serves SQLite and
//! PostgreSQL; `impl_sql_store!` stamps it onto each engine's store type.

macro_rules! credential_columns {
    () => {
        "id, owner, provider, label, config, secret_hints, key_id, sealed, status, status_message, last_tested_at, \
         last_used_at, enabled, priority, monthly_limit, usage_total, usage_period, period_start, version, revision, \
         created_at, updated_at, verifying_since, monthly_token_limit, rate_limit_per_minute"
    };
}

/// Records a credential's current secret as a version (inside a transaction).
macro_rules! insert_version {
    ($conn:expr, $c:expr) => {
        sqlx::query(concat!(
            "INSERT INTO credential_versions (credential_id, version, key_id, sealed, secret_hints, created_at) ",
            "VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind($c.id.to_string())
        .bind($c.version)
        .bind(&$c.key_id)
        .bind(&$c.sealed)
        .bind($crate::rows::to_json(&$c.secret_hints))
        .bind($c.updated_at.millis())
        .execute($conn)
        .await?;
    };
}

/// Inserts a token row.
macro_rules! insert_token {
    ($conn:expr, $t:expr) => {{
        let orgs: Vec<&str> = $t.manage_orgs.iter().map(|o| o.as_str()).collect();
        sqlx::query(
            "INSERT INTO tokens (id, hash, role, owner, manage_orgs, name, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind($t.id.to_string())
        .bind(&$t.hash)
        .bind($t.role.as_str())
        .bind($t.owner.as_ref().map(|o| o.to_string()))
        .bind($crate::rows::to_json(&orgs))
        .bind(&$t.name)
        .bind($t.created_at.millis())
        .bind($t.expires_at.map(|e| e.millis()))
        .bind($t.revoked_at.map(|e| e.millis()))
        .execute($conn)
        .await?;
    }};
}

/// A multi-row INSERT of audit records.
macro_rules! audit_insert {
    ($db:ty, $records:expr) => {{
        let mut q = sqlx::QueryBuilder::<$db>::new(concat!(
            "INSERT INTO audit_log (chain, seq, at, actor_token, actor_role, action, owner, credential_id, ",
            "provider, outcome, request_id, client_addr, detail, mac) "
        ));
        q.push_values($records, |mut row, r: &byok_core::AuditRecord| {
            let e = &r.event;
            row.push_bind(r.chain.clone())
                .push_bind(r.seq)
                .push_bind(r.at.millis())
                .push_bind(e.actor_token.clone())
                .push_bind(e.actor_role.clone())
                .push_bind(e.action.clone())
                .push_bind(e.owner.clone())
                .push_bind(e.credential_id.clone())
                .push_bind(e.provider.clone())
                .push_bind(e.outcome.clone())
                .push_bind(e.request_id.clone())
                .push_bind(e.client_addr.clone())
                .push_bind(e.detail.clone())
                .push_bind(r.mac.clone());
        });
        q
    }};
}

/// How often a status update reads the credential again after a concurrent edit.
pub(crate) const MAX_STATUS_ROUNDS: usize = 8;

macro_rules! impl_sql_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Counts a committed change that the credential epoch also records.
            fn note_credential_change(&self) {
                self.changes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }

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
                // Each step is one lookup in the key_id index: a few key ids cost a few
                // lookups, not a read of every sealed row (a million at start-up).
                let rows: Vec<(String,)> = sqlx::query_as(concat!(
                    "WITH RECURSIVE c(k) AS (SELECT min(key_id) FROM credentials ",
                    "UNION ALL SELECT (SELECT min(key_id) FROM credentials WHERE key_id > c.k) FROM c WHERE c.k IS NOT NULL), ",
                    "v(k) AS (SELECT min(key_id) FROM credential_versions ",
                    "UNION ALL SELECT (SELECT min(key_id) FROM credential_versions WHERE key_id > v.k) FROM v WHERE v.k IS NOT NULL) ",
                    "SELECT k FROM c WHERE k IS NOT NULL UNION SELECT k FROM v WHERE k IS NOT NULL ",
                    "UNION SELECT key_id FROM audit_key UNION SELECT key_id FROM webhooks ORDER BY 1"
                ))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(k,)| k).collect())
            }

            async fn take_sign_in_link(
                &self,
                token_hash: &[u8],
                now: byok_core::Timestamp,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("DELETE FROM ui_sign_in_links WHERE token_hash = $1 AND expires_at >= $2")
                    .bind(token_hash)
                    .bind(now.millis())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
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

            async fn list_tokens(
                &self,
                filter: &$crate::TokenFilter,
            ) -> Result<Vec<byok_core::Token>, $crate::StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new("SELECT * FROM tokens WHERE 1 = 1");
                if let Some(role) = filter.role {
                    q.push(" AND role = ").push_bind(role.as_str());
                }
                if let Some(owner) = &filter.owner {
                    q.push(" AND owner = ").push_bind(owner.to_string());
                }
                if let Some(after) = &filter.after {
                    q.push(" AND id > ").push_bind(after.to_string());
                }
                q.push(" ORDER BY id LIMIT ").push_bind(i64::from(filter.limit));
                let rows: Vec<$crate::rows::TokenRow> = q.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn token_epoch(&self) -> Result<i64, $crate::StoreError> {
                Ok(sqlx::query_scalar("SELECT epoch FROM token_epoch WHERE id = 1").fetch_one(&self.pool).await?)
            }

            async fn credential_epoch(&self) -> Result<i64, $crate::StoreError> {
                Ok(sqlx::query_scalar("SELECT epoch FROM credential_epoch WHERE id = 1").fetch_one(&self.pool).await?)
            }

            fn local_credential_changes(&self) -> u64 {
                self.changes.load(std::sync::atomic::Ordering::SeqCst)
            }

            async fn insert_credential(&self, c: &byok_core::Credential) -> Result<(), $crate::StoreError> {
                self.insert_credentials(std::slice::from_ref(c)).await
            }

            async fn insert_credentials(&self, credentials: &[byok_core::Credential]) -> Result<(), $crate::StoreError> {
                if credentials.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                insert_credential_rows!($db, tx, credentials);
                tx.commit().await?;
                self.note_credential_change();
                Ok(())
            }

            async fn commit_change(
                &self,
                change: &$crate::Change,
                records: &[byok_core::AuditRecord],
                events: &[byok_core::WebhookEvent],
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                if !apply_change!($db, tx, change) {
                    return Ok(false);
                }
                if !records.is_empty() {
                    audit_insert!($db, records).build().execute(&mut *tx).await?;
                }
                insert_events!(tx, events);
                tx.commit().await?;
                if change.moves_credential_epoch() {
                    self.note_credential_change();
                }
                Ok(true)
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

            async fn take_unit(
                &self,
                owner: &byok_core::Owner,
                provider: &byok_core::ProviderId,
                period: byok_core::Timestamp,
                now: byok_core::Timestamp,
                audit: Option<byok_core::AuditEvent>,
            ) -> Result<Option<byok_core::Credential>, $crate::StoreError> {
                let row = self
                    .meter
                    .take(owner.to_string(), provider.as_str().to_owned(), period.millis(), now.millis(), audit)
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            fn attach_chainer(&self, chainer: std::sync::Arc<dyn $crate::Chainer>) {
                self.meter.attach_chainer(chainer);
            }

            async fn tier_state(
                &self,
                owner: &byok_core::Owner,
                provider: &byok_core::ProviderId,
                period: byok_core::Timestamp,
            ) -> Result<$crate::TierState, $crate::StoreError> {
                let sql = concat!(
                    "SELECT count(*), ",
                    "coalesce(sum(CASE WHEN enabled = TRUE AND status <> 'error' THEN 1 ELSE 0 END), 0), ",
                    "coalesce(sum(CASE WHEN enabled = TRUE AND status <> 'error' AND period_start >= $3 ",
                    "AND ((monthly_limit IS NOT NULL AND usage_period >= monthly_limit) ",
                    "OR (monthly_token_limit IS NOT NULL AND EXISTS (SELECT 1 FROM credential_tokens t ",
                    "WHERE t.credential_id = credentials.id AND t.period_start >= $3 ",
                    "AND t.tokens_period >= monthly_token_limit))) THEN 1 ELSE 0 END), 0), ",
                    "coalesce(sum(CASE WHEN enabled = TRUE AND status <> 'error' AND period_start < $3 THEN 1 ELSE 0 END), 0) ",
                    "FROM credentials WHERE owner = $1 AND provider = $2"
                );
                let (total, usable, exhausted, stale): (i64, i64, i64, i64) = sqlx::query_as(sql)
                    .bind(owner.to_string())
                    .bind(provider.as_str())
                    .bind(period.millis())
                    .fetch_one(&self.pool)
                    .await?;
                Ok($crate::TierState { total, usable, exhausted, stale })
            }

            async fn roll_over(
                &self,
                owner: &byok_core::Owner,
                provider: &byok_core::ProviderId,
                period: byok_core::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(concat!(
                    "INSERT INTO usage_history (credential_id, period_start, requests) ",
                    "SELECT id, period_start, usage_period FROM credentials ",
                    "WHERE owner = $1 AND provider = $2 AND period_start < $3 ",
                    "ON CONFLICT (credential_id, period_start) DO NOTHING"
                ))
                .bind(owner.to_string())
                .bind(provider.as_str())
                .bind(period.millis())
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE credentials SET period_start = $3, usage_period = 0 WHERE owner = $1 AND provider = $2 AND period_start < $3",
                )
                .bind(owner.to_string())
                .bind(provider.as_str())
                .bind(period.millis())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                self.note_credential_change();
                Ok(())
            }

            async fn usage_history(
                &self,
                ids: &[byok_core::CredentialId],
            ) -> Result<Vec<$crate::UsagePeriod>, $crate::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT credential_id, period_start, requests FROM usage_history WHERE credential_id IN (",
                );
                let mut sep = q.separated(", ");
                for id in ids {
                    sep.push_bind(id.to_string());
                }
                q.push(") ORDER BY credential_id, period_start DESC");
                let rows: Vec<(String, i64, i64)> = q.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map(|(id, start, requests)| {
                        let credential_id = id.parse().map_err(|_| $crate::StoreError::Corrupt("usage history id".into()))?;
                        Ok($crate::UsagePeriod { credential_id, period_start: byok_core::Timestamp::from_millis(start), requests })
                    })
                    .collect()
            }

            async fn mark_verifying(
                &self,
                id: &byok_core::CredentialId,
                version: i64,
                since: byok_core::Timestamp,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("UPDATE credentials SET verifying_since = $1 WHERE id = $2 AND version = $3")
                    .bind(since.millis())
                    .bind(id.to_string())
                    .bind(version)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn end_verifying(
                &self,
                id: &byok_core::CredentialId,
                version: i64,
                since: byok_core::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "UPDATE credentials SET verifying_since = NULL WHERE id = $1 AND version = $2 AND verifying_since = $3",
                )
                .bind(id.to_string())
                .bind(version)
                .bind(since.millis())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn record_test(
                &self,
                id: &byok_core::CredentialId,
                version: i64,
                status: Option<byok_core::Status>,
                message: Option<&str>,
                tested_at: byok_core::Timestamp,
            ) -> Result<bool, $crate::StoreError> {
                // Guarded by the revision read, so the status change announced is the
                // one written; a concurrent edit makes it read again.
                for _ in 0..$crate::sql_store::MAX_STATUS_ROUNDS {
                    let Some(before) = self.get_credential(id).await?.filter(|c| c.version == version) else {
                        return Ok(false);
                    };
                    let mut tx = self.pool.begin().await?;
                    let done = sqlx::query(concat!(
                        "UPDATE credentials SET status = coalesce($1, status), status_message = $2, last_tested_at = $3, ",
                        "verifying_since = NULL, revision = revision + 1 WHERE id = $4 AND version = $5 AND revision = $6"
                    ))
                    .bind(status.map(|s| s.as_str()))
                    .bind(message)
                    .bind(tested_at.millis())
                    .bind(id.to_string())
                    .bind(version)
                    .bind(before.revision)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        continue;
                    }
                    let after = byok_core::Credential {
                        status: status.unwrap_or(before.status),
                        status_message: message.map(str::to_owned),
                        ..before.clone()
                    };
                    insert_events!(tx, byok_core::WebhookEvent::status_change(&before, &after, tested_at).iter());
                    tx.commit().await?;
                    self.note_credential_change();
                    return Ok(true);
                }
                Err($crate::StoreError::Conflict("the credential kept changing during its test"))
            }

            async fn due_for_retest(
                &self,
                before: byok_core::Timestamp,
                stale_before: byok_core::Timestamp,
                limit: u32,
            ) -> Result<Vec<byok_core::Credential>, $crate::StoreError> {
                // Two statements, so each uses its partial index.
                let stale = concat!(
                    "SELECT ",
                    credential_columns!(),
                    " FROM credentials WHERE verifying_since IS NOT NULL AND verifying_since < $1 AND enabled = TRUE ",
                    "ORDER BY verifying_since, id LIMIT $2"
                );
                let mut rows: Vec<$crate::rows::CredentialRow> = sqlx::query_as(stale)
                    .bind(stale_before.millis())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                let room = i64::from(limit) - rows.len() as i64;
                if room > 0 {
                    let due = concat!(
                        "SELECT ",
                        credential_columns!(),
                        " FROM credentials WHERE enabled = TRUE AND status IN ('connected', 'restricted') ",
                        "AND (last_tested_at IS NULL OR last_tested_at < $1) AND verifying_since IS NULL ",
                        "ORDER BY last_tested_at, id LIMIT $2"
                    );
                    rows.extend(
                        sqlx::query_as::<_, $crate::rows::CredentialRow>(due)
                            .bind(before.millis())
                            .bind(room)
                            .fetch_all(&self.pool)
                            .await?,
                    );
                }
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn mark_failing(
                &self,
                id: &byok_core::CredentialId,
                message: &str,
                now: byok_core::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                for _ in 0..$crate::sql_store::MAX_STATUS_ROUNDS {
                    let Some(before) = self.get_credential(id).await? else { return Ok(()) };
                    let mut tx = self.pool.begin().await?;
                    let done = sqlx::query(concat!(
                        "UPDATE credentials SET status = 'error', status_message = $1, updated_at = $2, ",
                        "revision = revision + 1 WHERE id = $3 AND revision = $4"
                    ))
                    .bind(message)
                    .bind(now.millis())
                    .bind(id.to_string())
                    .bind(before.revision)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        continue;
                    }
                    let after = byok_core::Credential {
                        status: byok_core::Status::Error,
                        status_message: Some(message.to_owned()),
                        ..before.clone()
                    };
                    insert_events!(tx, byok_core::WebhookEvent::status_change(&before, &after, now).iter());
                    tx.commit().await?;
                    self.note_credential_change();
                    return Ok(());
                }
                Err($crate::StoreError::Conflict("the credential kept changing"))
            }

            async fn credential_versions(
                &self,
                id: &byok_core::CredentialId,
            ) -> Result<Vec<$crate::SecretVersion>, $crate::StoreError> {
                let rows: Vec<(String, i64, String, Vec<u8>, String, i64)> = sqlx::query_as(concat!(
                    "SELECT credential_id, version, key_id, sealed, secret_hints, created_at FROM credential_versions ",
                    "WHERE credential_id = $1 ORDER BY version DESC"
                ))
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::rows::version_from_row).collect()
            }

            async fn audit_key(&self) -> Result<Option<(String, Vec<u8>)>, $crate::StoreError> {
                Ok(sqlx::query_as("SELECT key_id, sealed FROM audit_key WHERE id = 1").fetch_optional(&self.pool).await?)
            }

            async fn insert_audit_key(&self, key_id: &str, sealed: &[u8]) -> Result<(), $crate::StoreError> {
                sqlx::query("INSERT INTO audit_key (id, key_id, sealed) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
                    .bind(key_id)
                    .bind(sealed)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn start_audit_chain(&self, genesis: &byok_core::AuditRecord) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("INSERT INTO audit_chains (chain, started_at) VALUES ($1, $2)")
                    .bind(&genesis.chain)
                    .bind(genesis.at.millis())
                    .execute(&mut *tx)
                    .await?;
                audit_insert!($db, std::slice::from_ref(genesis)).build().execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn append_audit(&self, records: &[byok_core::AuditRecord]) -> Result<(), $crate::StoreError> {
                if records.is_empty() {
                    return Ok(());
                }
                self.meter.append_audit(records.to_vec(), None).await
            }

            async fn audit_chains(&self) -> Result<Vec<String>, $crate::StoreError> {
                Ok(sqlx::query_scalar("SELECT chain FROM audit_chains ORDER BY started_at, chain").fetch_all(&self.pool).await?)
            }

            async fn audit_chain_entries(
                &self,
                chain: &str,
                after_seq: i64,
                limit: u32,
            ) -> Result<Vec<byok_core::AuditRecord>, $crate::StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {} FROM audit_log WHERE chain = ", $crate::audit_rows::AUDIT_COLUMNS));
                q.push_bind(chain.to_owned()).push(" AND seq > ").push_bind(after_seq);
                q.push(" ORDER BY seq LIMIT ").push_bind(i64::from(limit));
                let rows: Vec<$crate::audit_rows::AuditRow> = q.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn list_audit(
                &self,
                f: &$crate::AuditFilter,
            ) -> Result<Vec<byok_core::AuditRecord>, $crate::StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {} FROM audit_log WHERE 1 = 1", $crate::audit_rows::AUDIT_COLUMNS));
                if let Some(owner) = &f.owner {
                    q.push(" AND owner = ").push_bind(owner.clone());
                }
                if let Some(id) = &f.credential_id {
                    q.push(" AND credential_id = ").push_bind(id.clone());
                }
                if let Some(action) = &f.action {
                    q.push(" AND action = ").push_bind(action.clone());
                }
                if let Some(since) = f.since {
                    q.push(" AND at >= ").push_bind(since.millis());
                }
                if let Some(until) = f.until {
                    q.push(" AND at < ").push_bind(until.millis());
                }
                if let Some((at, chain, seq)) = &f.after {
                    q.push(" AND (at > ").push_bind(*at);
                    q.push(" OR (at = ").push_bind(*at).push(" AND chain > ").push_bind(chain.clone());
                    q.push(") OR (at = ").push_bind(*at).push(" AND chain = ").push_bind(chain.clone());
                    q.push(" AND seq > ").push_bind(*seq).push("))");
                }
                q.push(" ORDER BY at, chain, seq LIMIT ").push_bind(i64::from(f.limit));
                let rows: Vec<$crate::audit_rows::AuditRow> = q.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn audit_pruned_heads(&self) -> Result<Vec<$crate::PrunedHead>, $crate::StoreError> {
                let rows: Vec<(String, i64, Vec<u8>, Vec<u8>, i64)> = sqlx::query_as(
                    "SELECT chain, seq, mac, attestation, pruned_at FROM audit_pruned_heads ORDER BY chain",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(chain, seq, mac, attestation, at)| $crate::PrunedHead {
                        chain,
                        seq,
                        mac,
                        attestation,
                        pruned_at: byok_core::Timestamp::from_millis(at),
                    })
                    .collect())
            }

            async fn prune_audit(&self, heads: &[$crate::PrunedHead]) -> Result<u64, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let mut removed = 0;
                for head in heads {
                    removed += sqlx::query("DELETE FROM audit_log WHERE chain = $1 AND seq <= $2")
                        .bind(&head.chain)
                        .bind(head.seq)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    sqlx::query(concat!(
                        "INSERT INTO audit_pruned_heads (chain, seq, mac, attestation, pruned_at) ",
                        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, ",
                        "mac = excluded.mac, attestation = excluded.attestation, pruned_at = excluded.pruned_at ",
                        "WHERE audit_pruned_heads.seq < excluded.seq"
                    ))
                    .bind(&head.chain)
                    .bind(head.seq)
                    .bind(&head.mac)
                    .bind(&head.attestation)
                    .bind(head.pruned_at.millis())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(removed)
            }

            async fn sealed_elsewhere(&self, primary: &str, limit: u32) -> Result<Vec<$crate::SealedItem>, $crate::StoreError> {
                let mut items = Vec::new();
                if let Some((key_id, sealed)) = self.audit_key().await?.filter(|(k, _)| k != primary) {
                    items.push($crate::SealedItem::AuditKey { key_id, sealed });
                }
                let webhooks: Vec<(String, Vec<u8>)> =
                    sqlx::query_as("SELECT id, sealed FROM webhooks WHERE key_id <> $1 ORDER BY id LIMIT $2")
                        .bind(primary)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?;
                items.extend(webhooks.into_iter().map(|(id, sealed)| $crate::SealedItem::WebhookSecret { id, sealed }));
                // Under each older key id through the key_id index (`ORDER BY key_id` keeps
                // PostgreSQL on it): a scan for `key_id <> primary` would walk every row
                // already re-sealed, at every batch.
                let older: Vec<String> = self.sealed_key_ids().await?.into_iter().filter(|k| k != primary).collect();
                let sql = concat!("SELECT ", credential_columns!(), " FROM credentials WHERE key_id = $1 ORDER BY key_id LIMIT $2");
                for key_id in &older {
                    let room = i64::from(limit) - items.len() as i64;
                    if room <= 0 {
                        return Ok(items);
                    }
                    let rows: Vec<$crate::rows::CredentialRow> =
                        sqlx::query_as(sql).bind(key_id).bind(room).fetch_all(&self.pool).await?;
                    for row in rows {
                        items.push($crate::SealedItem::Credential(row.try_into()?));
                    }
                }
                for key_id in &older {
                    let room = i64::from(limit) - items.len() as i64;
                    if room <= 0 {
                        return Ok(items);
                    }
                    let versions: Vec<(String, i64, String, Vec<u8>, String, i64)> = sqlx::query_as(concat!(
                        "SELECT credential_id, version, key_id, sealed, secret_hints, created_at FROM credential_versions ",
                        "WHERE key_id = $1 ORDER BY key_id LIMIT $2"
                    ))
                    .bind(key_id)
                    .bind(room)
                    .fetch_all(&self.pool)
                    .await?;
                    for row in versions {
                        let version = $crate::rows::version_from_row(row)?;
                        if let Some(credential) = self.get_credential(&version.credential_id).await? {
                            items.push($crate::SealedItem::Version { credential, version });
                        }
                    }
                }
                Ok(items)
            }

            async fn reseal(&self, items: &[$crate::Reseal]) -> Result<u64, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let credentials: Vec<String> = items
                    .iter()
                    .filter_map(|item| match &item.target {
                        $crate::ResealTarget::Credential(id) => Some(id.to_string()),
                        _ => None,
                    })
                    .collect();
                <$store>::lock_credentials(&mut tx, &credentials).await?;
                let mut written = 0;
                for item in items {
                    let done = match &item.target {
                        $crate::ResealTarget::Credential(id) => {
                            sqlx::query(concat!(
                                "UPDATE credentials SET key_id = $1, sealed = $2, revision = revision + 1 ",
                                "WHERE id = $3 AND sealed = $4"
                            ))
                                .bind(&item.key_id)
                                .bind(&item.sealed)
                                .bind(id.to_string())
                                .bind(&item.old)
                                .execute(&mut *tx)
                                .await?
                        }
                        $crate::ResealTarget::Version(id, version) => sqlx::query(concat!(
                            "UPDATE credential_versions SET key_id = $1, sealed = $2 ",
                            "WHERE credential_id = $3 AND version = $4 AND sealed = $5"
                        ))
                        .bind(&item.key_id)
                        .bind(&item.sealed)
                        .bind(id.to_string())
                        .bind(*version)
                        .bind(&item.old)
                        .execute(&mut *tx)
                        .await?,
                        $crate::ResealTarget::AuditKey => {
                            sqlx::query("UPDATE audit_key SET key_id = $1, sealed = $2 WHERE id = 1 AND sealed = $3")
                                .bind(&item.key_id)
                                .bind(&item.sealed)
                                .bind(&item.old)
                                .execute(&mut *tx)
                                .await?
                        }
                        $crate::ResealTarget::WebhookSecret(id) => {
                            sqlx::query("UPDATE webhooks SET key_id = $1, sealed = $2 WHERE id = $3 AND sealed = $4")
                                .bind(&item.key_id)
                                .bind(&item.sealed)
                                .bind(id)
                                .bind(&item.old)
                                .execute(&mut *tx)
                                .await?
                        }
                    };
                    written += done.rows_affected();
                }
                tx.commit().await?;
                self.note_credential_change();
                Ok(written)
            }

            async fn count_sealed_elsewhere(&self, primary: &str) -> Result<i64, $crate::StoreError> {
                Ok(sqlx::query_scalar(concat!(
                    "SELECT (SELECT count(*) FROM credentials WHERE key_id <> $1) ",
                    "+ (SELECT count(*) FROM credential_versions WHERE key_id <> $1) ",
                    "+ (SELECT count(*) FROM audit_key WHERE key_id <> $1) ",
                    "+ (SELECT count(*) FROM webhooks WHERE key_id <> $1)"
                ))
                .bind(primary)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn org_allows_platform(&self, org: &byok_core::OrgId) -> Result<bool, $crate::StoreError> {
                let row: Option<(bool,)> = sqlx::query_as("SELECT allow_platform_fallback FROM org_policies WHERE org = $1")
                    .bind(org.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.is_none_or(|(allow,)| allow))
            }

            async fn org_short_lived_only(&self, org: &byok_core::OrgId) -> Result<bool, $crate::StoreError> {
                let row: Option<(bool,)> = sqlx::query_as("SELECT short_lived_only FROM org_policies WHERE org = $1")
                    .bind(org.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.is_some_and(|(only,)| only))
            }

        }
    };
}

pub(crate) use {audit_insert, credential_columns, impl_sql_store, insert_token, insert_version};
