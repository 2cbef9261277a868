//! The statements of each [`crate::Change`], run inside the caller's transaction; each
//! evaluates to whether the change applied.

/// Inserts credentials, each with its first version.
macro_rules! insert_credential_rows {
    ($db:ty, $tx:expr, $credentials:expr) => {{
        // 25 parameters a row: 400 rows stay under SQLite's 32,766 parameters.
        for chunk in $credentials.chunks(400) {
            let mut q = sqlx::QueryBuilder::<$db>::new(concat!(
                "INSERT INTO credentials (id, owner, provider, label, config, secret_hints, key_id, sealed, status, ",
                "status_message, last_tested_at, last_used_at, enabled, priority, monthly_limit, usage_total, ",
                "usage_period, period_start, version, revision, created_at, updated_at, verifying_since, ",
                "monthly_token_limit, rate_limit_per_minute) "
            ));
            q.push_values(chunk, |mut row, c: &byok_core::Credential| {
                row.push_bind(c.id.to_string())
                    .push_bind(c.owner.to_string())
                    .push_bind(c.provider.as_str().to_owned())
                    .push_bind(c.label.as_str().to_owned())
                    .push_bind($crate::rows::to_json(&c.config))
                    .push_bind($crate::rows::to_json(&c.secret_hints))
                    .push_bind(c.key_id.clone())
                    .push_bind(c.sealed.clone())
                    .push_bind(c.status.as_str())
                    .push_bind(c.status_message.clone())
                    .push_bind(c.last_tested_at.map(|t| t.millis()))
                    .push_bind(c.last_used_at.map(|t| t.millis()))
                    .push_bind(c.enabled)
                    .push_bind(c.priority)
                    .push_bind(c.monthly_limit)
                    .push_bind(c.usage_total)
                    .push_bind(c.usage_period)
                    .push_bind(c.period_start.millis())
                    .push_bind(c.version)
                    .push_bind(c.revision)
                    .push_bind(c.created_at.millis())
                    .push_bind(c.updated_at.millis())
                    .push_bind(c.verifying_since.map(|t| t.millis()))
                    .push_bind(c.monthly_token_limit)
                    .push_bind(c.rate_limit_per_minute);
            });
            q.build().execute(&mut *$tx).await?;
            let mut q = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO credential_versions (credential_id, version, key_id, sealed, secret_hints, created_at) ",
            );
            q.push_values(chunk, |mut row, c: &byok_core::Credential| {
                row.push_bind(c.id.to_string())
                    .push_bind(c.version)
                    .push_bind(c.key_id.clone())
                    .push_bind(c.sealed.clone())
                    .push_bind($crate::rows::to_json(&c.secret_hints))
                    .push_bind(c.updated_at.millis());
            });
            q.build().execute(&mut *$tx).await?;
        }
        true
    }};
}

macro_rules! update_credential_row {
    ($tx:expr, $c:expr, $new_version:expr, $keep:expr) => {{
        let c: &byok_core::Credential = $c;
        let done = sqlx::query(concat!(
            "UPDATE credentials SET label = $1, config = $2, secret_hints = $3, key_id = $4, sealed = $5, ",
            "status = $6, status_message = $7, last_tested_at = $8, enabled = $9, priority = $10, ",
            "monthly_limit = $11, version = $12, updated_at = $13, revision = revision + 1, ",
            // A test mark belongs to the secret it tests: a new secret brings its own.
            "verifying_since = CASE WHEN version = $12 THEN verifying_since ELSE $16 END, monthly_token_limit = $17, ",
            "rate_limit_per_minute = $18 ",
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
        .bind(c.verifying_since.map(|t| t.millis()))
        .bind(c.monthly_token_limit)
        .bind(c.rate_limit_per_minute)
        .execute(&mut *$tx)
        .await?;
        let applied = done.rows_affected() == 1;
        if applied && $new_version {
            insert_version!(&mut *$tx, c);
            sqlx::query("DELETE FROM credential_versions WHERE credential_id = $1 AND version < $2")
                .bind(c.id.to_string())
                .bind(c.version - i64::from($keep))
                .execute(&mut *$tx)
                .await?;
        }
        applied
    }};
}

macro_rules! delete_credential_rows {
    ($tx:expr, $id:expr) => {{
        let id = $id.to_string();
        let done = sqlx::query("DELETE FROM credentials WHERE id = $1").bind(&id).execute(&mut *$tx).await?;
        sqlx::query("DELETE FROM usage_history WHERE credential_id = $1").bind(&id).execute(&mut *$tx).await?;
        sqlx::query("DELETE FROM credential_versions WHERE credential_id = $1").bind(&id).execute(&mut *$tx).await?;
        done.rows_affected() == 1
    }};
}

macro_rules! insert_virtual_key_rows {
    ($tx:expr, $token:expr, $key:expr, $period:expr) => {{
        insert_token!(&mut *$tx, $token);
        let key: &byok_core::VirtualKey = $key;
        let providers: Vec<&str> = key.providers.iter().map(|p| p.as_str()).collect();
        let models: Vec<&str> = key.models.iter().map(|m| m.as_str()).collect();
        sqlx::query(concat!(
            "INSERT INTO virtual_keys (token_id, providers, monthly_limit, usage_total, usage_period, ",
            "period_start, tokens_total, tokens_period, models, monthly_token_limit, rate_limit_per_minute) ",
            "VALUES ($1, $2, $3, 0, 0, $4, 0, 0, $5, $6, $7)"
        ))
        .bind(key.token_id.to_string())
        .bind($crate::rows::to_json(&providers))
        .bind(key.monthly_limit)
        .bind($period.millis())
        .bind((!models.is_empty()).then(|| $crate::rows::to_json(&models)))
        .bind(key.monthly_token_limit)
        .bind(key.rate_limit_per_minute)
        .execute(&mut *$tx)
        .await?;
        true
    }};
}

macro_rules! insert_token_rows {
    ($tx:expr, $token:expr, $sign_in_link_until:expr) => {{
        insert_token!(&mut *$tx, $token);
        if let Some(until) = $sign_in_link_until {
            sqlx::query("INSERT INTO ui_sign_in_links (token_hash, expires_at) VALUES ($1, $2)")
                .bind(&$token.hash)
                .bind(until.millis())
                .execute(&mut *$tx)
                .await?;
        }
        true
    }};
}

macro_rules! revoke_token_row {
    ($tx:expr, $id:expr, $now:expr) => {{
        let done = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind($now.millis())
            .bind($id.to_string())
            .execute(&mut *$tx)
            .await?;
        sqlx::query("UPDATE token_epoch SET epoch = epoch + 1 WHERE id = 1").execute(&mut *$tx).await?;
        done.rows_affected() == 1
    }};
}

macro_rules! set_org_policy_row {
    ($tx:expr, $org:expr, $allow:expr, $short_lived_only:expr, $now:expr) => {{
        sqlx::query(concat!(
            "INSERT INTO org_policies (org, allow_platform_fallback, short_lived_only, updated_at) ",
            "VALUES ($1, $2, $3, $4) ON CONFLICT (org) DO UPDATE SET allow_platform_fallback = $2, ",
            "short_lived_only = $3, updated_at = $4"
        ))
        .bind($org.as_str())
        .bind($allow)
        .bind($short_lived_only)
        .bind($now.millis())
        .execute(&mut *$tx)
        .await?;
        true
    }};
}

macro_rules! insert_webhook_rows {
    ($tx:expr, $w:expr) => {{
        let w: &$crate::Webhook = $w;
        sqlx::query(concat!(
            "INSERT INTO webhooks (id, url, description, key_id, sealed, enabled, created_at) ",
            "VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&w.id)
        .bind(&w.url)
        .bind(&w.description)
        .bind(&w.key_id)
        .bind(&w.sealed)
        .bind(w.enabled)
        .bind(w.created_at.millis())
        .execute(&mut *$tx)
        .await?;
        for event in &w.events {
            sqlx::query("INSERT INTO webhook_subscriptions (webhook_id, event) VALUES ($1, $2)")
                .bind(&w.id)
                .bind(event.as_str())
                .execute(&mut *$tx)
                .await?;
        }
        true
    }};
}

macro_rules! delete_webhook_rows {
    ($tx:expr, $id:expr) => {{
        // Its subscriptions and deliveries go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind($id).execute(&mut *$tx).await?;
        done.rows_affected() == 1
    }};
}

macro_rules! disable_webhook_row {
    ($tx:expr, $id:expr, $now:expr) => {{
        let done =
            sqlx::query("UPDATE webhooks SET enabled = FALSE, disabled_at = $1 WHERE id = $2 AND enabled = TRUE")
                .bind($now.millis())
                .bind($id)
                .execute(&mut *$tx)
                .await?;
        done.rows_affected() == 1
    }};
}

/// Applies a [`crate::Change`] in `$tx`: whether it applied.
macro_rules! apply_change {
    ($db:ty, $tx:expr, $change:expr) => {{
        use $crate::Change;
        match $change {
            Change::InsertCredential(c) => insert_credential_rows!($db, $tx, std::slice::from_ref(c)),
            Change::UpdateCredential { credential, new_version, keep } => {
                update_credential_row!($tx, credential, *new_version, *keep)
            }
            Change::DeleteCredential(id) => delete_credential_rows!($tx, id),
            Change::InsertToken { token, sign_in_link_until } => insert_token_rows!($tx, token, sign_in_link_until),
            Change::InsertVirtualKey { token, key, period } => insert_virtual_key_rows!($tx, token, key, period),
            Change::RevokeToken { id, now } => revoke_token_row!($tx, id, now),
            Change::SetOrgPolicy { org, allow_platform, short_lived_only, now } => {
                set_org_policy_row!($tx, org, *allow_platform, *short_lived_only, now)
            }
            Change::InsertWebhook(w) => insert_webhook_rows!($tx, w),
            Change::DeleteWebhook(id) => delete_webhook_rows!($tx, id),
            Change::DisableWebhook { id, now } => disable_webhook_row!($tx, id, now),
        }
    }};
}

pub(crate) use {
    apply_change, delete_credential_rows, delete_webhook_rows, disable_webhook_row, insert_credential_rows,
    insert_token_rows, insert_virtual_key_rows, insert_webhook_rows, revoke_token_row, set_org_policy_row,
    update_credential_row,
};
