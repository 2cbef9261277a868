//! A provider that refuses a key (401 or 403), is rate limiting it (429) or fails
//! (5xx): a request whose body byok holds whole goes out again with the owner's next
//! usable key of the same tier (the bill never moves to another tier), before any byte
//! of the failed answer reaches the client. A refused key is also marked `error` with
//! why. Each attempt is audited and counted against the key it used; `x-byok-attempts`
//! tells the client how many there were.

use byok_core::{CredentialId, ProviderSpec, Status};

use super::caller::Caller;
use super::pay::{self, Paid};
use super::refusal::Refusal;
use crate::AppState;
use crate::audit::RequestInfo;

/// Most attempts for one request.
pub(super) const MAX_ATTEMPTS: u32 = 4;

/// Whether an answer with this status is tried again with another key.
pub(super) fn worth_another_key(status: u16) -> bool {
    matches!(status, 401 | 403 | 429) || (500..600).contains(&status)
}

/// Whether the provider's status says the key itself was refused.
pub(super) fn key_refused(status: u16) -> bool {
    matches!(status, 401 | 403)
}

/// After a failed attempt with `paid` (a refused key is marked failing first), the
/// owner's next usable key of the same tier not yet `tried`; `None` when there is none
/// (the failed answer then goes back as it came).
pub(super) async fn next_key<'a>(
    state: &'a AppState,
    spec: &ProviderSpec,
    caller: &Caller,
    info: &RequestInfo,
    paid: &Paid<'_>,
    tried: &[CredentialId],
    status: u16,
) -> Result<Option<Paid<'a>>, Refusal> {
    let (Some(tier), Some(used)) = (paid.tier(), paid.stored_version()) else { return Ok(None) };
    if key_refused(status) {
        // Awaited: the refused key is out of the owner's picks before the next is taken.
        mark_refused(state, &spec.name, used, status).await;
    }
    pay::next_of_owner(state, spec, caller, info, (tier, paid.owner()), tried).await
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
