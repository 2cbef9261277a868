//! Audit rows as both engines return them.

use byok_core::{AuditEvent, AuditRecord, Timestamp};

pub(crate) struct AuditRow {
    pub chain: String,
    pub seq: i64,
    pub at: i64,
    pub actor_token: Option<String>,
    pub actor_role: String,
    pub action: String,
    pub owner: Option<String>,
    pub credential_id: Option<String>,
    pub provider: Option<String>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
    pub mac: Vec<u8>,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        AuditRecord {
            chain: r.chain,
            seq: r.seq,
            at: Timestamp::from_millis(r.at),
            event: AuditEvent {
                actor_token: r.actor_token,
                actor_role: r.actor_role,
                action: r.action,
                owner: r.owner,
                credential_id: r.credential_id,
                provider: r.provider,
                outcome: r.outcome,
                request_id: r.request_id,
                client_addr: r.client_addr,
                detail: r.detail,
            },
            mac: r.mac,
        }
    }
}

pub(crate) const AUDIT_COLUMNS: &str = "chain, seq, at, actor_token, actor_role, action, owner, credential_id, provider, \
     outcome, request_id, client_addr, detail, mac";
