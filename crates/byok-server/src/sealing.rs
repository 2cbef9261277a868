//! Building and sealing credentials: shared by the API and by the CLI's imports.

use std::collections::BTreeMap;

use byok_core::{
    Credential, CredentialId, Label, Owner, ProviderId, SecretFields, SplitFields, Status, Timestamp, secret_hint,
};
use byok_crypto::Binding;

use crate::AppState;

/// What a new credential is made of, already validated.
pub struct NewCredential {
    pub owner: Owner,
    pub provider: ProviderId,
    pub label: Label,
    pub split: SplitFields,
    pub monthly_limit: Option<i64>,
    pub priority: i64,
}

/// A new credential, sealed under the primary key, not yet stored.
pub fn new_credential(state: &AppState, new: NewCredential) -> Credential {
    let now = state.clock.now();
    let mut credential = Credential {
        id: CredentialId::new(),
        owner: new.owner,
        provider: new.provider,
        label: new.label,
        config: new.split.config,
        secret_hints: hints(&new.split.secrets),
        key_id: String::new(),
        sealed: Vec::new(),
        status: Status::Unverified,
        status_message: None,
        last_tested_at: None,
        last_used_at: None,
        enabled: true,
        priority: new.priority,
        monthly_limit: new.monthly_limit,
        monthly_token_limit: None,
        rate_limit_per_minute: None,
        usage_total: 0,
        usage_period: 0,
        period_start: state.settings.period_anchor.period_start(now),
        version: 1,
        revision: 1,
        created_at: now,
        updated_at: now,
        verifying_since: None,
    };
    seal_into(state, &mut credential, &new.split.secrets);
    credential
}

/// Start of the usage period the clock is in now.
pub(crate) fn current_period(state: &AppState) -> Timestamp {
    state.settings.period_anchor.period_start(state.clock.now())
}

/// What a credential's envelope is bound to.
pub(crate) fn binding(c: &Credential) -> Binding<'_> {
    Binding { credential_id: &c.id, owner: &c.owner, provider: &c.provider, version: c.version }
}

pub(crate) fn seal_into(state: &AppState, c: &mut Credential, secrets: &SecretFields) {
    let (key_id, sealed) = state.keyring.seal(&binding(c), secrets);
    c.key_id = key_id;
    c.sealed = sealed;
}

pub(crate) fn hints(secrets: &SecretFields) -> BTreeMap<String, String> {
    secrets.iter().map(|(k, v)| (k.clone(), secret_hint(v.expose()))).collect()
}
