//! The statements of each [`crate::Change`] on SQLite, run in the caller's
//! transaction, and the rows that are written beside a change: audit entries and
//! webhook events.

use byok_core::{AuditRecord, Credential, Timestamp, Token, VirtualKey, WebhookEvent};
use rusqlite::{Transaction, params};

use crate::rows::to_json;
use crate::{Change, StoreError, Webhook};

/// Applies `change` in `tx`: whether it applied.
pub(crate) fn apply(tx: &Transaction<'_>, change: &Change) -> Result<bool, StoreError> {
    Ok(match change {
        Change::InsertCredential(c) => {
            insert_credentials(tx, std::slice::from_ref(c))?;
            true
        }
        Change::UpdateCredential { credential, new_version, keep } => {
            update_credential(tx, credential, *new_version, *keep)?
        }
        Change::DeleteCredential(id) => {
            let id = id.to_string();
            let done = tx.prepare_cached("DELETE FROM credentials WHERE id = ?1")?.execute([&id])?;
            tx.prepare_cached("DELETE FROM usage_history WHERE credential_id = ?1")?.execute([&id])?;
            tx.prepare_cached("DELETE FROM credential_versions WHERE credential_id = ?1")?.execute([&id])?;
            done == 1
        }
        Change::InsertToken { token, sign_in_link_until } => {
            insert_token(tx, token)?;
            if let Some(until) = sign_in_link_until {
                tx.prepare_cached("INSERT INTO ui_sign_in_links (token_hash, expires_at) VALUES (?1, ?2)")?
                    .execute(params![token.hash, until.millis()])?;
            }
            true
        }
        Change::InsertVirtualKey { token, key, period } => {
            insert_token(tx, token)?;
            insert_virtual_key(tx, key, *period)?;
            true
        }
        Change::RevokeToken { id, now } => {
            let done = tx
                .prepare_cached("UPDATE tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL")?
                .execute(params![now.millis(), id.to_string()])?;
            tx.prepare_cached("UPDATE token_epoch SET epoch = epoch + 1 WHERE id = 1")?.execute([])?;
            done == 1
        }
        Change::SetOrgPolicy { org, allow_platform, short_lived_only, now } => {
            tx.prepare_cached(concat!(
                "INSERT INTO org_policies (org, allow_platform_fallback, short_lived_only, updated_at) ",
                "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (org) DO UPDATE SET allow_platform_fallback = ?2, ",
                "short_lived_only = ?3, updated_at = ?4"
            ))?
            .execute(params![org.as_str(), allow_platform, short_lived_only, now.millis()])?;
            true
        }
        Change::InsertWebhook(w) => {
            insert_webhook(tx, w)?;
            true
        }
        Change::DeleteWebhook(id) => {
            // Its subscriptions and deliveries go with it (ON DELETE CASCADE).
            tx.prepare_cached("DELETE FROM webhooks WHERE id = ?1")?.execute([id])? == 1
        }
        Change::DisableWebhook { id, now } => {
            tx.prepare_cached("UPDATE webhooks SET enabled = FALSE, disabled_at = ?1 WHERE id = ?2 AND enabled = TRUE")?
                .execute(params![now.millis(), id])?
                == 1
        }
    })
}

/// Inserts credentials, each with its first version.
pub(crate) fn insert_credentials(tx: &Transaction<'_>, credentials: &[Credential]) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(concat!(
        "INSERT INTO credentials (id, owner, provider, label, config, secret_hints, key_id, sealed, status, ",
        "status_message, last_tested_at, last_used_at, enabled, priority, monthly_limit, usage_total, ",
        "usage_period, period_start, version, revision, created_at, updated_at, verifying_since, ",
        "monthly_token_limit, rate_limit_per_minute) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ",
        "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)"
    ))?;
    for c in credentials {
        insert.execute(params![
            c.id.to_string(),
            c.owner.to_string(),
            c.provider.as_str(),
            c.label.as_str(),
            to_json(&c.config),
            to_json(&c.secret_hints),
            c.key_id,
            c.sealed,
            c.status.as_str(),
            c.status_message,
            c.last_tested_at.map(|t| t.millis()),
            c.last_used_at.map(|t| t.millis()),
            c.enabled,
            c.priority,
            c.monthly_limit,
            c.usage_total,
            c.usage_period,
            c.period_start.millis(),
            c.version,
            c.revision,
            c.created_at.millis(),
            c.updated_at.millis(),
            c.verifying_since.map(|t| t.millis()),
            c.monthly_token_limit,
            c.rate_limit_per_minute,
        ])?;
        insert_version(tx, c)?;
    }
    Ok(())
}

/// Records a credential's current secret as a version.
fn insert_version(tx: &Transaction<'_>, c: &Credential) -> Result<(), StoreError> {
    tx.prepare_cached(concat!(
        "INSERT INTO credential_versions (credential_id, version, key_id, sealed, secret_hints, created_at) ",
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))?
    .execute(params![
        c.id.to_string(),
        c.version,
        c.key_id,
        c.sealed,
        to_json(&c.secret_hints),
        c.updated_at.millis()
    ])?;
    Ok(())
}

fn update_credential(tx: &Transaction<'_>, c: &Credential, new_version: bool, keep: u32) -> Result<bool, StoreError> {
    let done = tx
        .prepare_cached(concat!(
            "UPDATE credentials SET label = ?1, config = ?2, secret_hints = ?3, key_id = ?4, sealed = ?5, ",
            "status = ?6, status_message = ?7, last_tested_at = ?8, enabled = ?9, priority = ?10, ",
            "monthly_limit = ?11, version = ?12, updated_at = ?13, revision = revision + 1, ",
            // A test mark belongs to the secret it tests: a new secret brings its own.
            "verifying_since = CASE WHEN version = ?12 THEN verifying_since ELSE ?16 END, monthly_token_limit = ?17, ",
            "rate_limit_per_minute = ?18 WHERE id = ?14 AND revision = ?15"
        ))?
        .execute(params![
            c.label.as_str(),
            to_json(&c.config),
            to_json(&c.secret_hints),
            c.key_id,
            c.sealed,
            c.status.as_str(),
            c.status_message,
            c.last_tested_at.map(|t| t.millis()),
            c.enabled,
            c.priority,
            c.monthly_limit,
            c.version,
            c.updated_at.millis(),
            c.id.to_string(),
            c.revision,
            c.verifying_since.map(|t| t.millis()),
            c.monthly_token_limit,
            c.rate_limit_per_minute,
        ])?;
    let applied = done == 1;
    if applied && new_version {
        insert_version(tx, c)?;
        tx.prepare_cached("DELETE FROM credential_versions WHERE credential_id = ?1 AND version < ?2")?
            .execute(params![c.id.to_string(), c.version - i64::from(keep)])?;
    }
    Ok(applied)
}

fn insert_token(tx: &Transaction<'_>, t: &Token) -> Result<(), StoreError> {
    let orgs: Vec<&str> = t.manage_orgs.iter().map(|o| o.as_str()).collect();
    tx.prepare_cached(
        "INSERT INTO tokens (id, hash, role, owner, manage_orgs, name, created_at, expires_at, revoked_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        t.id.to_string(),
        t.hash,
        t.role.as_str(),
        t.owner.as_ref().map(|o| o.to_string()),
        to_json(&orgs),
        t.name,
        t.created_at.millis(),
        t.expires_at.map(|e| e.millis()),
        t.revoked_at.map(|e| e.millis()),
    ])?;
    Ok(())
}

fn insert_virtual_key(tx: &Transaction<'_>, key: &VirtualKey, period: Timestamp) -> Result<(), StoreError> {
    let providers: Vec<&str> = key.providers.iter().map(|p| p.as_str()).collect();
    let models: Vec<&str> = key.models.iter().map(|m| m.as_str()).collect();
    tx.prepare_cached(concat!(
        "INSERT INTO virtual_keys (token_id, providers, monthly_limit, usage_total, usage_period, ",
        "period_start, tokens_total, tokens_period, models, monthly_token_limit, rate_limit_per_minute) ",
        "VALUES (?1, ?2, ?3, 0, 0, ?4, 0, 0, ?5, ?6, ?7)"
    ))?
    .execute(params![
        key.token_id.to_string(),
        to_json(&providers),
        key.monthly_limit,
        period.millis(),
        (!models.is_empty()).then(|| to_json(&models)),
        key.monthly_token_limit,
        key.rate_limit_per_minute,
    ])?;
    Ok(())
}

fn insert_webhook(tx: &Transaction<'_>, w: &Webhook) -> Result<(), StoreError> {
    tx.prepare_cached(concat!(
        "INSERT INTO webhooks (id, url, description, key_id, sealed, enabled, created_at) ",
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?
    .execute(params![w.id, w.url, w.description, w.key_id, w.sealed, w.enabled, w.created_at.millis()])?;
    let mut subscribe = tx.prepare_cached("INSERT INTO webhook_subscriptions (webhook_id, event) VALUES (?1, ?2)")?;
    for event in &w.events {
        subscribe.execute(params![w.id, event.as_str()])?;
    }
    Ok(())
}

/// Puts each event into the outbox: a delivery for each enabled endpoint subscribed to
/// its type.
pub(crate) fn insert_events<'a>(
    tx: &Transaction<'_>,
    events: impl IntoIterator<Item = &'a WebhookEvent>,
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(concat!(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, subject, body, state, attempts, ",
        "next_attempt_at, created_at) SELECT s.webhook_id, ?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5 ",
        "FROM webhook_subscriptions s JOIN webhooks w ON w.id = s.webhook_id WHERE s.event = ?2 AND w.enabled = TRUE"
    ))?;
    for e in events {
        insert.execute(params![e.id, e.kind.as_str(), e.subject, e.body, e.at.millis()])?;
    }
    Ok(())
}

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (chain, seq, at, actor_token, actor_role, action, owner, \
     credential_id, provider, outcome, request_id, client_addr, detail, mac) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

/// Appends audit records (already chained).
pub(crate) fn insert_audit<'a>(
    tx: &Transaction<'_>,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(INSERT_AUDIT)?;
    for r in records {
        let e = &r.event;
        insert.execute(params![
            r.chain,
            r.seq,
            r.at.millis(),
            e.actor_token,
            e.actor_role,
            e.action,
            e.owner,
            e.credential_id,
            e.provider,
            e.outcome,
            e.request_id,
            e.client_addr,
            e.detail,
            r.mac,
        ])?;
    }
    Ok(())
}
