//! Audit entries: who did what to which credential, never a secret.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    ChainStart,
    CredentialCreate,
    CredentialUpdate,
    CredentialEnable,
    CredentialDisable,
    CredentialDelete,
    CredentialRollback,
    CredentialTest,
    CredentialReport,
    CredentialResolve,
    CredentialProxy,
    CredentialImport,
    TokenCreate,
    TokenRevoke,
    PolicyUpdate,
    AuthRefused,
    KeyRotate,
    AuditPrune,
    WebhookCreate,
    WebhookDelete,
    WebhookRetry,
    WebhookDisabled,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ChainStart => "audit.chain_start",
            AuditAction::CredentialCreate => "credential.create",
            AuditAction::CredentialUpdate => "credential.update",
            AuditAction::CredentialEnable => "credential.enable",
            AuditAction::CredentialDisable => "credential.disable",
            AuditAction::CredentialDelete => "credential.delete",
            AuditAction::CredentialRollback => "credential.rollback",
            AuditAction::CredentialTest => "credential.test",
            AuditAction::CredentialReport => "credential.report",
            AuditAction::CredentialResolve => "credential.resolve",
            AuditAction::CredentialProxy => "credential.proxy",
            AuditAction::CredentialImport => "credential.import",
            AuditAction::TokenCreate => "token.create",
            AuditAction::TokenRevoke => "token.revoke",
            AuditAction::PolicyUpdate => "policy.update",
            AuditAction::AuthRefused => "auth.refused",
            AuditAction::KeyRotate => "key.rotate",
            AuditAction::AuditPrune => "audit.prune",
            AuditAction::WebhookCreate => "webhook.create",
            AuditAction::WebhookDelete => "webhook.delete",
            AuditAction::WebhookRetry => "webhook.retry",
            AuditAction::WebhookDisabled => "webhook.disabled",
        }
    }
}

/// One event, before it is placed in a chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub actor_token: Option<String>,
    pub actor_role: String,
    pub action: String,
    pub owner: Option<String>,
    pub credential_id: Option<String>,
    pub provider: Option<String>,
    /// `ok`, `denied`, `failed`, or a probe outcome.
    pub outcome: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    /// A short note (e.g. a version number); never a secret.
    pub detail: Option<String>,
}

/// An event placed in a chain: its position and MAC make edits, deletions and
/// reordering detectable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub chain: String,
    pub seq: i64,
    pub at: Timestamp,
    #[serde(flatten)]
    pub event: AuditEvent,
    #[serde(skip)]
    pub mac: Vec<u8>,
}

impl AuditRecord {
    /// The bytes the MAC covers: every field, in a fixed order, as a JSON array.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let e = &self.event;
        serde_json::to_vec(&(
            &self.chain,
            self.seq,
            self.at.millis(),
            &e.actor_token,
            &e.actor_role,
            &e.action,
            &e.owner,
            &e.credential_id,
            &e.provider,
            &e.outcome,
            &e.request_id,
            &e.client_addr,
            &e.detail,
        ))
        .expect("strings and numbers serialise")
    }
}
