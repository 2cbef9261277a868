//! SQLite's rows, read by position into the rows both engines share (`crate::rows`):
//! each function reads the columns of the list beside it, in that order.

use rusqlite::Row;

use crate::audit_rows::AuditRow;
use crate::rows::{CredentialRow, TokenRow, VersionRow};
use crate::webhook_rows::{DeliveryRow, WebhookRow};

/// In `crate::rows::CREDENTIAL_COLUMNS` order.
pub(crate) fn credential(r: &Row<'_>) -> rusqlite::Result<CredentialRow> {
    Ok(CredentialRow {
        id: r.get(0)?,
        owner: r.get(1)?,
        provider: r.get(2)?,
        label: r.get(3)?,
        config: r.get(4)?,
        secret_hints: r.get(5)?,
        key_id: r.get(6)?,
        sealed: r.get(7)?,
        status: r.get(8)?,
        status_message: r.get(9)?,
        last_tested_at: r.get(10)?,
        last_used_at: r.get(11)?,
        enabled: r.get(12)?,
        priority: r.get(13)?,
        monthly_limit: r.get(14)?,
        usage_total: r.get(15)?,
        usage_period: r.get(16)?,
        period_start: r.get(17)?,
        version: r.get(18)?,
        revision: r.get(19)?,
        created_at: r.get(20)?,
        updated_at: r.get(21)?,
        verifying_since: r.get(22)?,
        monthly_token_limit: r.get(23)?,
        rate_limit_per_minute: r.get(24)?,
    })
}

/// In `crate::rows::TOKEN_COLUMNS` order.
pub(crate) fn token(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        hash: r.get(1)?,
        role: r.get(2)?,
        owner: r.get(3)?,
        manage_orgs: r.get(4)?,
        name: r.get(5)?,
        created_at: r.get(6)?,
        expires_at: r.get(7)?,
        revoked_at: r.get(8)?,
    })
}

/// In `crate::audit_rows::AUDIT_COLUMNS` order.
pub(crate) fn audit(r: &Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        chain: r.get(0)?,
        seq: r.get(1)?,
        at: r.get(2)?,
        actor_token: r.get(3)?,
        actor_role: r.get(4)?,
        action: r.get(5)?,
        owner: r.get(6)?,
        credential_id: r.get(7)?,
        provider: r.get(8)?,
        outcome: r.get(9)?,
        request_id: r.get(10)?,
        client_addr: r.get(11)?,
        detail: r.get(12)?,
        mac: r.get(13)?,
    })
}

/// In `crate::webhook_rows::WEBHOOK_COLUMNS` order.
pub(crate) fn webhook(r: &Row<'_>) -> rusqlite::Result<WebhookRow> {
    Ok(WebhookRow {
        id: r.get(0)?,
        url: r.get(1)?,
        description: r.get(2)?,
        key_id: r.get(3)?,
        sealed: r.get(4)?,
        enabled: r.get(5)?,
        failing_since: r.get(6)?,
        disabled_at: r.get(7)?,
        created_at: r.get(8)?,
    })
}

/// In `crate::webhook_rows::DELIVERY_COLUMNS` order.
pub(crate) fn delivery(r: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow {
        seq: r.get(0)?,
        webhook_id: r.get(1)?,
        event_id: r.get(2)?,
        event_type: r.get(3)?,
        state: r.get(4)?,
        attempts: r.get(5)?,
        next_attempt_at: r.get(6)?,
        last_status: r.get(7)?,
        last_error: r.get(8)?,
        created_at: r.get(9)?,
        finished_at: r.get(10)?,
        body: r.get(11)?,
    })
}

/// A `credential_versions` row in `crate::rows::VERSION_COLUMNS` order.
pub(crate) fn version(r: &Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}
