//! A key the provider refuses (401 or 403): it is marked `error` with why, and a
//! request whose body byok holds whole goes out again with the owner's next usable key
//! of the same tier (the bill never moves to another tier), before any byte of the
//! refusal reaches the client. Each attempt is audited and counted against the key it
//! used; `x-byok-attempts` tells the client how many there were.

use byok_core::{CredentialId, ProviderSpec, Status, Tier};

use super::caller::Caller;
use super::pay::{self, Paid};
use super::refusal::Refusal;
use crate::AppState;
use crate::audit::RequestInfo;

/// Most attempts for one request.
pub(super) const MAX_ATTEMPTS: u32 = 4;

/// Marks the refused key failing, then takes the next key of its tier; `None` when the
/// tier has no other usable key (the refusal then goes back as it came).
pub(super) async fn next_key<'a>(
    state: &'a AppState,
    spec: &ProviderSpec,
    caller: &Caller,
    info: &RequestInfo,
    paid: &Paid<'_>,
    refused: (CredentialId, i64),
    status: u16,
) -> Result<Option<Paid<'a>>, Refusal> {
    // Awaited: the next pick must not be the refused key.
    mark_refused(state, &spec.name, refused, status).await;
    let Some(tier) = paid.tier() else { return Ok(None) };
    let same_tier = Caller {
        key: caller.key.clone(),
        chain: caller.chain.iter().filter(|(t, _)| *t == tier).cloned().collect::<Vec<(Tier, _)>>(),
        virtual_key: caller.virtual_key.clone(),
    };
    match pay::credential_only(state, spec, &same_tier, info).await {
        Ok(next) if next.credential().is_some() => Ok(Some(next)),
        Ok(_) | Err(Refusal::NoCredential(_) | Refusal::QuotaExhausted(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// [`mark_refused`] beside the answer, which goes back unchanged.
pub(super) fn mark_refused_later(state: &AppState, spec: &ProviderSpec, refused: (CredentialId, i64), status: u16) {
    let (state, name) = (state.clone(), spec.name.clone());
    tokio::spawn(async move { mark_refused(&state, &name, refused, status).await });
}

/// Marks a stored key `error` with why, as a failed test of the secret that went out
/// (a secret changed meanwhile is left alone): resolves and the proxy move on to the
/// owner's next key, and a `credential.status_changed` event goes out.
async fn mark_refused(state: &AppState, provider: &str, (id, version): (CredentialId, i64), status: u16) {
    let message = format!("{provider} answered {status} to a proxied request: the key was refused");
    match state.store.record_test(&id, version, Some(Status::Error), Some(&message), state.clock.now()).await {
        Ok(true) => {
            tracing::warn!(credential_id = %id, status, "a proxied request's key was refused; marked failing");
            state.audit.announced.notify_one();
        }
        Ok(false) => {}
        Err(e) => tracing::error!(credential_id = %id, error = %e, "a refused key could not be marked failing"),
    }
}
