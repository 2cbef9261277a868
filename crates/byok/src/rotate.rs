//! `byok rotate-key`: re-seal every sealed row under the primary master key, in small
//! batches, while the service keeps serving. Each batch is one transaction of
//! compare-and-swap updates, so the command can be killed at any moment and run again.

use byok_core::{AuditAction, AuditEvent, Credential};
use byok_crypto::{AUDIT_KEY_PURPOSE, Binding, CryptoError};
use byok_server::AppState;
use byok_store::{Reseal, ResealTarget, SealedItem, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{what} does not open with the configured keyring ({source}); fix or delete it, then run rotate-key again")]
    Unreadable { what: String, source: CryptoError },
    #[error("the rotation could not be audited: {0}")]
    Audit(String),
}

#[derive(Debug, Default)]
pub struct RotateReport {
    pub resealed: u64,
    pub remaining: i64,
}

fn binding(c: &Credential, version: i64) -> Binding<'_> {
    Binding { credential_id: &c.id, owner: &c.owner, provider: &c.provider, version }
}

fn reseal_item(state: &AppState, item: SealedItem) -> Result<Reseal, RotateError> {
    let ring = &state.keyring;
    Ok(match item {
        SealedItem::Credential(c) => {
            let secrets = ring
                .open(&binding(&c, c.version), &c.sealed)
                .map_err(|source| RotateError::Unreadable { what: format!("credential {}", c.id), source })?;
            let (key_id, sealed) = ring.seal(&binding(&c, c.version), &secrets);
            Reseal { target: ResealTarget::Credential(c.id), old: c.sealed, key_id, sealed }
        }
        SealedItem::Version { credential, version } => {
            let b = binding(&credential, version.version);
            let secrets = ring.open(&b, &version.sealed).map_err(|source| RotateError::Unreadable {
                what: format!("credential {} version {}", credential.id, version.version),
                source,
            })?;
            let (key_id, sealed) = ring.seal(&b, &secrets);
            Reseal {
                target: ResealTarget::Version(credential.id, version.version),
                old: version.sealed,
                key_id,
                sealed,
            }
        }
        SealedItem::AuditKey { sealed: old, .. } => {
            let key = ring
                .open_blob(AUDIT_KEY_PURPOSE, &old)
                .map_err(|source| RotateError::Unreadable { what: "the audit key".into(), source })?;
            let (key_id, sealed) = ring.seal_blob(AUDIT_KEY_PURPOSE, &key);
            Reseal { target: ResealTarget::AuditKey, old, key_id, sealed }
        }
        SealedItem::WebhookSecret { id, sealed: old } => {
            let purpose = byok_crypto::webhook_secret_purpose(&id);
            let secret = ring
                .open_blob(&purpose, &old)
                .map_err(|source| RotateError::Unreadable { what: format!("webhook {id}'s secret"), source })?;
            let (key_id, sealed) = ring.seal_blob(&purpose, &secret);
            Reseal { target: ResealTarget::WebhookSecret(id), old, key_id, sealed }
        }
    })
}

/// Re-seals batches until no row is sealed under another key; `progress` gets the
/// running total and what is still left.
pub async fn rotate(state: &AppState, batch: u32, progress: &dyn Fn(u64, i64)) -> Result<RotateReport, RotateError> {
    let primary = state.keyring.primary_id().as_str().to_owned();
    let mut report = RotateReport::default();
    // Counted once: a count per batch would read every remaining row each time.
    let total = state.store.count_sealed_elsewhere(&primary).await?;
    loop {
        let items = state.store.sealed_elsewhere(&primary, batch).await?;
        if items.is_empty() {
            break;
        }
        let reseals = items.into_iter().map(|item| reseal_item(state, item)).collect::<Result<Vec<_>, _>>()?;
        report.resealed += state.store.reseal(&reseals).await?;
        progress(report.resealed, total - report.resealed as i64);
    }
    report.remaining = state.store.count_sealed_elsewhere(&primary).await?;
    let event = AuditEvent {
        actor_role: "operator".into(),
        action: AuditAction::KeyRotate.as_str().into(),
        outcome: "ok".into(),
        detail: Some(format!("{} envelopes re-sealed under {primary}; {} left", report.resealed, report.remaining)),
        ..AuditEvent::default()
    };
    state.audit.record(event).await.map_err(|e| RotateError::Audit(e.to_string()))?;
    Ok(report)
}
