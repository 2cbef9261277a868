//! PostgreSQL's rows, read by position into the rows both engines share (`crate::rows`):
//! each function reads the columns of the list beside it, in that order.

use tokio_postgres::Row;

use crate::audit_rows::AuditRow;
use crate::rows::{CredentialRow, TokenRow, VersionRow};
use crate::webhook_rows::{DeliveryRow, WebhookRow};

/// In `crate::rows::CREDENTIAL_COLUMNS` order.
pub(crate) fn credential(r: &Row) -> Result<CredentialRow, tokio_postgres::Error> {
    Ok(CredentialRow {
        id: r.try_get(0)?,
        owner: r.try_get(1)?,
        provider: r.try_get(2)?,
        label: r.try_get(3)?,
        config: r.try_get(4)?,
        secret_hints: r.try_get(5)?,
        key_id: r.try_get(6)?,
        sealed: r.try_get(7)?,
        status: r.try_get(8)?,
        status_message: r.try_get(9)?,
        last_tested_at: r.try_get(10)?,
        last_used_at: r.try_get(11)?,
        enabled: r.try_get(12)?,
        priority: r.try_get(13)?,
        monthly_limit: r.try_get(14)?,
        usage_total: r.try_get(15)?,
        usage_period: r.try_get(16)?,
        period_start: r.try_get(17)?,
        version: r.try_get(18)?,
        revision: r.try_get(19)?,
        created_at: r.try_get(20)?,
        updated_at: r.try_get(21)?,
        verifying_since: r.try_get(22)?,
        monthly_token_limit: r.try_get(23)?,
        rate_limit_per_minute: r.try_get(24)?,
    })
}

/// In `crate::rows::TOKEN_COLUMNS` order.
pub(crate) fn token(r: &Row) -> Result<TokenRow, tokio_postgres::Error> {
    Ok(TokenRow {
        id: r.try_get(0)?,
        hash: r.try_get(1)?,
        role: r.try_get(2)?,
        owner: r.try_get(3)?,
        manage_orgs: r.try_get(4)?,
        name: r.try_get(5)?,
        created_at: r.try_get(6)?,
        expires_at: r.try_get(7)?,
        revoked_at: r.try_get(8)?,
    })
}

/// In `crate::audit_rows::AUDIT_COLUMNS` order.
pub(crate) fn audit(r: &Row) -> Result<AuditRow, tokio_postgres::Error> {
    Ok(AuditRow {
        chain: r.try_get(0)?,
        seq: r.try_get(1)?,
        at: r.try_get(2)?,
        actor_token: r.try_get(3)?,
        actor_role: r.try_get(4)?,
        action: r.try_get(5)?,
        owner: r.try_get(6)?,
        credential_id: r.try_get(7)?,
        provider: r.try_get(8)?,
        outcome: r.try_get(9)?,
        request_id: r.try_get(10)?,
        client_addr: r.try_get(11)?,
        detail: r.try_get(12)?,
        mac: r.try_get(13)?,
    })
}

/// In `crate::webhook_rows::WEBHOOK_COLUMNS` order.
pub(crate) fn webhook(r: &Row) -> Result<WebhookRow, tokio_postgres::Error> {
    Ok(WebhookRow {
        id: r.try_get(0)?,
        url: r.try_get(1)?,
        description: r.try_get(2)?,
        key_id: r.try_get(3)?,
        sealed: r.try_get(4)?,
        enabled: r.try_get(5)?,
        failing_since: r.try_get(6)?,
        disabled_at: r.try_get(7)?,
        created_at: r.try_get(8)?,
    })
}

/// In `crate::webhook_rows::DELIVERY_COLUMNS` order.
pub(crate) fn delivery(r: &Row) -> Result<DeliveryRow, tokio_postgres::Error> {
    Ok(DeliveryRow {
        seq: r.try_get(0)?,
        webhook_id: r.try_get(1)?,
        event_id: r.try_get(2)?,
        event_type: r.try_get(3)?,
        state: r.try_get(4)?,
        attempts: r.try_get(5)?,
        next_attempt_at: r.try_get(6)?,
        last_status: r.try_get(7)?,
        last_error: r.try_get(8)?,
        created_at: r.try_get(9)?,
        finished_at: r.try_get(10)?,
        body: r.try_get(11)?,
    })
}

/// A `credential_versions` row in `crate::rows::VERSION_COLUMNS` order.
pub(crate) fn version(r: &Row) -> Result<VersionRow, tokio_postgres::Error> {
    Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?))
}
