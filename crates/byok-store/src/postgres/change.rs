//! The statements of each [`crate::Change`] on PostgreSQL, run in the caller's
//! transaction, and the rows that are written beside a change: audit entries and
//! webhook events.

use byok_core::{AuditRecord, Credential, Timestamp, Token, VirtualKey, WebhookEvent};
use deadpool_postgres::Transaction;

use crate::rows::to_json;
use crate::{Change, StoreError, Webhook};

/// Applies `change` in `tx`: whether it applied.
pub(crate) async fn apply(tx: &Transaction<'_>, change: &Change) -> Result<bool, StoreError> {
    Ok(match change {
        Change::InsertCredential(c) => {
            insert_credentials(tx, std::slice::from_ref(c)).await?;
            true
        }
        Change::UpdateCredential { credential, new_version, keep } => {
            update_credential(tx, credential, *new_version, *keep).await?
        }
        Change::DeleteCredential(id) => {
            let id = id.to_string();
            let done = tx.execute(&tx.prepare_cached("DELETE FROM credentials WHERE id = $1").await?, &[&id]).await?;
            tx.execute(&tx.prepare_cached("DELETE FROM usage_history WHERE credential_id = $1").await?, &[&id]).await?;
            tx.execute(&tx.prepare_cached("DELETE FROM credential_versions WHERE credential_id = $1").await?, &[&id])
                .await?;
            done == 1
        }
        Change::InsertToken { token, sign_in_link_until } => {
            insert_token(tx, token).await?;
            if let Some(until) = sign_in_link_until {
                let sql = "INSERT INTO ui_sign_in_links (token_hash, expires_at) VALUES ($1, $2)";
                tx.execute(&tx.prepare_cached(sql).await?, &[&token.hash, &until.millis()]).await?;
            }
            true
        }
        Change::InsertVirtualKey { token, key, period } => {
            insert_token(tx, token).await?;
            insert_virtual_key(tx, key, *period).await?;
            true
        }
        Change::RevokeToken { id, now } => {
            let sql = "UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
            let done = tx.execute(&tx.prepare_cached(sql).await?, &[&now.millis(), &id.to_string()]).await?;
            let bump = "UPDATE token_epoch SET epoch = epoch + 1 WHERE id = 1";
            tx.execute(&tx.prepare_cached(bump).await?, &[]).await?;
            done == 1
        }
        Change::SetOrgPolicy { org, allow_platform, short_lived_only, now } => {
            let sql = concat!(
                "INSERT INTO org_policies (org, allow_platform_fallback, short_lived_only, updated_at) ",
                "VALUES ($1, $2, $3, $4) ON CONFLICT (org) DO UPDATE SET allow_platform_fallback = $2, ",
                "short_lived_only = $3, updated_at = $4"
            );
            tx.execute(
                &tx.prepare_cached(sql).await?,
                &[&org.as_str(), allow_platform, short_lived_only, &now.millis()],
            )
            .await?;
            true
        }
        Change::InsertWebhook(w) => {
            insert_webhook(tx, w).await?;
            true
        }
        Change::DeleteWebhook(id) => {
            // Its subscriptions and deliveries go with it (ON DELETE CASCADE).
            tx.execute(&tx.prepare_cached("DELETE FROM webhooks WHERE id = $1").await?, &[id]).await? == 1
        }
        Change::DisableWebhook { id, now } => {
            let sql = "UPDATE webhooks SET enabled = FALSE, disabled_at = $1 WHERE id = $2 AND enabled = TRUE";
            tx.execute(&tx.prepare_cached(sql).await?, &[&now.millis(), id]).await? == 1
        }
    })
}

/// Inserts credentials, each with its first version: one statement per table for up to
/// [`ROWS_PER_STATEMENT`] credentials, their columns bound as arrays.
pub(crate) async fn insert_credentials(tx: &Transaction<'_>, credentials: &[Credential]) -> Result<(), StoreError> {
    let insert = tx
        .prepare_cached(concat!(
            "INSERT INTO credentials (id, owner, provider, label, config, secret_hints, key_id, sealed, status, ",
            "status_message, last_tested_at, last_used_at, enabled, priority, monthly_limit, usage_total, ",
            "usage_period, period_start, version, revision, created_at, updated_at, verifying_since, ",
            "monthly_token_limit, rate_limit_per_minute) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], ",
            "$4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::text[], $10::text[], $11::bigint[], ",
            "$12::bigint[], $13::bool[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], ",
            "$19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[], $24::bigint[], $25::bigint[])"
        ))
        .await?;
    let versions = tx
        .prepare_cached(concat!(
            "INSERT INTO credential_versions (credential_id, version, key_id, sealed, secret_hints, created_at) ",
            "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[], $5::text[], $6::bigint[])"
        ))
        .await?;
    for part in credentials.chunks(ROWS_PER_STATEMENT) {
        let col = |f: fn(&Credential) -> Option<i64>| part.iter().map(f).collect::<Vec<_>>();
        let ids: Vec<String> = part.iter().map(|c| c.id.to_string()).collect();
        let owners: Vec<String> = part.iter().map(|c| c.owner.to_string()).collect();
        let providers: Vec<&str> = part.iter().map(|c| c.provider.as_str()).collect();
        let labels: Vec<&str> = part.iter().map(|c| c.label.as_str()).collect();
        let configs: Vec<String> = part.iter().map(|c| to_json(&c.config)).collect();
        let hints: Vec<String> = part.iter().map(|c| to_json(&c.secret_hints)).collect();
        let key_ids: Vec<&str> = part.iter().map(|c| c.key_id.as_str()).collect();
        let sealed: Vec<&[u8]> = part.iter().map(|c| c.sealed.as_slice()).collect();
        let statuses: Vec<&str> = part.iter().map(|c| c.status.as_str()).collect();
        let messages: Vec<Option<&str>> = part.iter().map(|c| c.status_message.as_deref()).collect();
        let enabled: Vec<bool> = part.iter().map(|c| c.enabled).collect();
        let (tested, used) =
            (col(|c| c.last_tested_at.map(|t| t.millis())), col(|c| c.last_used_at.map(|t| t.millis())));
        let (priority, limit) = (col(|c| Some(c.priority)), col(|c| c.monthly_limit));
        let (total, period) = (col(|c| Some(c.usage_total)), col(|c| Some(c.usage_period)));
        let (start, version) = (col(|c| Some(c.period_start.millis())), col(|c| Some(c.version)));
        let (revision, created) = (col(|c| Some(c.revision)), col(|c| Some(c.created_at.millis())));
        let (updated, verifying) =
            (col(|c| Some(c.updated_at.millis())), col(|c| c.verifying_since.map(|t| t.millis())));
        let (token_limit, rate) = (col(|c| c.monthly_token_limit), col(|c| c.rate_limit_per_minute));
        tx.execute(
            &insert,
            &[
                &ids,
                &owners,
                &providers,
                &labels,
                &configs,
                &hints,
                &key_ids,
                &sealed,
                &statuses,
                &messages,
                &tested,
                &used,
                &enabled,
                &priority,
                &limit,
                &total,
                &period,
                &start,
                &version,
                &revision,
                &created,
                &updated,
                &verifying,
                &token_limit,
                &rate,
            ],
        )
        .await?;
        tx.execute(&versions, &[&ids, &version, &key_ids, &sealed, &hints, &updated]).await?;
    }
    Ok(())
}

/// Most credentials inserted by one statement.
const ROWS_PER_STATEMENT: usize = 1_000;

/// Records a credential's current secret as a version.
async fn insert_version(tx: &Transaction<'_>, c: &Credential) -> Result<(), StoreError> {
    let sql = concat!(
        "INSERT INTO credential_versions (credential_id, version, key_id, sealed, secret_hints, created_at) ",
        "VALUES ($1, $2, $3, $4, $5, $6)"
    );
    tx.execute(
        &tx.prepare_cached(sql).await?,
        &[&c.id.to_string(), &c.version, &c.key_id, &c.sealed, &to_json(&c.secret_hints), &c.updated_at.millis()],
    )
    .await?;
    Ok(())
}

async fn update_credential(
    tx: &Transaction<'_>,
    c: &Credential,
    new_version: bool,
    keep: u32,
) -> Result<bool, StoreError> {
    let sql = concat!(
        "UPDATE credentials SET label = $1, config = $2, secret_hints = $3, key_id = $4, sealed = $5, ",
        "status = $6, status_message = $7, last_tested_at = $8, enabled = $9, priority = $10, ",
        "monthly_limit = $11, version = $12, updated_at = $13, revision = revision + 1, ",
        // A test mark belongs to the secret it tests: a new secret brings its own.
        "verifying_since = CASE WHEN version = $12 THEN verifying_since ELSE $16 END, monthly_token_limit = $17, ",
        "rate_limit_per_minute = $18 WHERE id = $14 AND revision = $15"
    );
    let done = tx
        .execute(
            &tx.prepare_cached(sql).await?,
            &[
                &c.label.as_str(),
                &to_json(&c.config),
                &to_json(&c.secret_hints),
                &c.key_id,
                &c.sealed,
                &c.status.as_str(),
                &c.status_message,
                &c.last_tested_at.map(|t| t.millis()),
                &c.enabled,
                &c.priority,
                &c.monthly_limit,
                &c.version,
                &c.updated_at.millis(),
                &c.id.to_string(),
                &c.revision,
                &c.verifying_since.map(|t| t.millis()),
                &c.monthly_token_limit,
                &c.rate_limit_per_minute,
            ],
        )
        .await?;
    let applied = done == 1;
    if applied && new_version {
        insert_version(tx, c).await?;
        let sql = "DELETE FROM credential_versions WHERE credential_id = $1 AND version < $2";
        tx.execute(&tx.prepare_cached(sql).await?, &[&c.id.to_string(), &(c.version - i64::from(keep))]).await?;
    }
    Ok(applied)
}

async fn insert_token(tx: &Transaction<'_>, t: &Token) -> Result<(), StoreError> {
    let orgs: Vec<&str> = t.manage_orgs.iter().map(|o| o.as_str()).collect();
    let sql = "INSERT INTO tokens (id, hash, role, owner, manage_orgs, name, created_at, expires_at, revoked_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    tx.execute(
        &tx.prepare_cached(sql).await?,
        &[
            &t.id.to_string(),
            &t.hash,
            &t.role.as_str(),
            &t.owner.as_ref().map(|o| o.to_string()),
            &to_json(&orgs),
            &t.name,
            &t.created_at.millis(),
            &t.expires_at.map(|e| e.millis()),
            &t.revoked_at.map(|e| e.millis()),
        ],
    )
    .await?;
    Ok(())
}

async fn insert_virtual_key(tx: &Transaction<'_>, key: &VirtualKey, period: Timestamp) -> Result<(), StoreError> {
    let providers: Vec<&str> = key.providers.iter().map(|p| p.as_str()).collect();
    let models: Vec<&str> = key.models.iter().map(|m| m.as_str()).collect();
    let sql = concat!(
        "INSERT INTO virtual_keys (token_id, providers, monthly_limit, usage_total, usage_period, ",
        "period_start, tokens_total, tokens_period, models, monthly_token_limit, rate_limit_per_minute) ",
        "VALUES ($1, $2, $3, 0, 0, $4, 0, 0, $5, $6, $7)"
    );
    tx.execute(
        &tx.prepare_cached(sql).await?,
        &[
            &key.token_id.to_string(),
            &to_json(&providers),
            &key.monthly_limit,
            &period.millis(),
            &(!models.is_empty()).then(|| to_json(&models)),
            &key.monthly_token_limit,
            &key.rate_limit_per_minute,
        ],
    )
    .await?;
    Ok(())
}

async fn insert_webhook(tx: &Transaction<'_>, w: &Webhook) -> Result<(), StoreError> {
    let sql = concat!(
        "INSERT INTO webhooks (id, url, description, key_id, sealed, enabled, created_at) ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7)"
    );
    tx.execute(
        &tx.prepare_cached(sql).await?,
        &[&w.id, &w.url, &w.description, &w.key_id, &w.sealed, &w.enabled, &w.created_at.millis()],
    )
    .await?;
    let subscribe = tx.prepare_cached("INSERT INTO webhook_subscriptions (webhook_id, event) VALUES ($1, $2)").await?;
    for event in &w.events {
        tx.execute(&subscribe, &[&w.id, &event.as_str()]).await?;
    }
    Ok(())
}

/// Puts each event into the outbox: a delivery for each enabled endpoint subscribed to
/// its type.
pub(crate) async fn insert_events<'a>(
    tx: &Transaction<'_>,
    events: impl IntoIterator<Item = &'a WebhookEvent>,
) -> Result<(), StoreError> {
    let insert = tx
        .prepare_cached(concat!(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, subject, body, state, attempts, ",
            "next_attempt_at, created_at) SELECT s.webhook_id, $1::text, $2::text, $3::text, $4::text, 'pending', 0, ",
            "$5::bigint, $5::bigint FROM webhook_subscriptions s JOIN webhooks w ON w.id = s.webhook_id ",
            "WHERE s.event = $2 AND w.enabled = TRUE"
        ))
        .await?;
    for e in events {
        tx.execute(&insert, &[&e.id, &e.kind.as_str(), &e.subject, &e.body, &e.at.millis()]).await?;
    }
    Ok(())
}

/// Appends audit records (already chained) with one statement, their columns bound as
/// arrays (the metering writer's statement).
pub(crate) async fn insert_audit(tx: &Transaction<'_>, records: &[AuditRecord]) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let records: Vec<&AuditRecord> = records.iter().collect();
    let arrays = super::writer::AuditArrays::new(&records);
    tx.execute(&tx.prepare_cached(super::writer::INSERT_AUDIT).await?, &arrays.params()).await?;
    Ok(())
}
