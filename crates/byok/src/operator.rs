//! What the operator's commands share: opening the database without the HTTP service,
//! the command line's audit actor, and their errors.

use std::sync::Arc;

use byok_core::{AuditAction, AuditEvent, Credential, SystemClock};
use byok_server::Auditor;
use byok_server::audit::load_audit_key;
use byok_store::{Change, Store, StoreError};
use thiserror::Error;

use crate::config::Config;
use crate::startup::{self, StartupError};

#[derive(Debug, Error)]
pub enum OperatorError {
    #[error("{0}")]
    Startup(#[from] StartupError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("no credential {0}")]
    NoCredential(String),
    #[error("no token {0}")]
    NoToken(String),
    #[error("{0}")]
    Input(String),
    #[error("credential {0} was changed meanwhile; run the command again")]
    Conflict(String),
    #[error("done, but the change could not be audited: {0}")]
    Audit(String),
    #[error("not done: the change and its audit entry could not be written: {0}")]
    NotDone(String),
    #[error("{0}")]
    Refused(String),
}

/// The store, after proving the configured keyring is this database's (a command that
/// changes something then starts its audit writer with `start_audit`).
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    let keyring = startup::keyring(config)?;
    let store = byok_store::connect(&config.database_url).await?;
    startup::verify_keyring(store.as_ref(), &keyring).await?;
    Ok(store)
}

/// An audit writer on `store` (a chain of this command's own), started only once a
/// command is about to change something.
pub async fn start_audit(config: &Config, store: &Arc<dyn Store>) -> Result<Auditor, StartupError> {
    let keyring = startup::keyring(config)?;
    let key = load_audit_key(store.as_ref(), &keyring).await?;
    Ok(Auditor::start(store.clone(), key, Arc::new(SystemClock)).await?)
}

/// An event by the operator at the command line: the database's own access, no token.
pub fn event(action: AuditAction) -> AuditEvent {
    AuditEvent {
        actor_token: Some("cli".into()),
        actor_role: "operator".into(),
        action: action.as_str().into(),
        outcome: "ok".into(),
        ..AuditEvent::default()
    }
}

/// An event by the operator about credential `c` (the same subject fields as the API's).
pub fn credential_event(action: AuditAction, c: &Credential) -> AuditEvent {
    AuditEvent {
        owner: Some(c.owner.to_string()),
        credential_id: Some(c.id.to_string()),
        provider: Some(c.provider.to_string()),
        ..event(action)
    }
}

/// Records `event` and waits until it is durable.
pub async fn record(audit: &Auditor, event: AuditEvent) -> Result<(), OperatorError> {
    audit.record(event).await.map_err(|e| OperatorError::Audit(e.to_string()))
}

/// Applies `change` with its audit `events` in one transaction (see [`Auditor::commit`]).
pub async fn commit(audit: &Auditor, change: Change, events: Vec<AuditEvent>) -> Result<bool, OperatorError> {
    audit.commit(change, events).await.map_err(|e| OperatorError::NotDone(e.to_string()))
}

/// [`commit`] with the webhook events of a change to a credential from `before` to
/// `after` (see [`byok_server::credential_change`]).
pub async fn commit_credential_change(
    audit: &Auditor,
    change: Change,
    events: Vec<AuditEvent>,
    (before, after): (Option<&Credential>, Option<&Credential>),
) -> Result<bool, OperatorError> {
    let announced = byok_server::credential_change(before, after, byok_core::Timestamp::now());
    audit.commit_announced(change, events, announced).await.map_err(|e| OperatorError::NotDone(e.to_string()))
}

/// Writes a line of a listing; a closed pipe (`| head`) ends the listing quietly.
pub fn write_line(out: &mut impl std::io::Write, line: &str) {
    if writeln!(out, "{line}").is_err() {
        std::process::exit(0);
    }
}
