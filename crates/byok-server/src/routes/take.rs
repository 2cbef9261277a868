//! Who pays for a resolve or a proxied request: a unit taken exactly from a credential
//! with a monthly limit, or the owner's pick when it has none (nothing to overrun: it
//! comes from the instance's credential cache and its use is counted after the fact).

use std::sync::Arc;

use byok_core::{AuditEvent, Credential, Owner, ProviderId, SecretFields, Timestamp};

use crate::credential_cache::{Lookup, Pick};
use crate::sealing::binding;
use crate::{ApiError, AppState};

/// A take that keeps losing races gives up after this many rounds.
const MAX_ROUNDS: usize = 8;

pub(crate) enum TierOutcome {
    Granted(Box<Credential>),
    Exhausted,
    Nothing,
}

pub(crate) async fn take_from_tier(
    state: &AppState,
    owner: &Owner,
    provider: &ProviderId,
    period: Timestamp,
    now: Timestamp,
    audit: &AuditEvent,
) -> Result<TierOutcome, ApiError> {
    for _ in 0..MAX_ROUNDS {
        if let Some(credential) = state.store.take_unit(owner, provider, period, now, Some(audit.clone())).await? {
            return Ok(TierOutcome::Granted(Box::new(credential)));
        }
        let tier = state.store.tier_state(owner, provider, period).await?;
        if tier.stale > 0 {
            state.store.roll_over(owner, provider, period).await?;
        } else if tier.usable == 0 {
            return Ok(TierOutcome::Nothing);
        } else if tier.exhausted >= tier.usable {
            return Ok(TierOutcome::Exhausted);
        }
        // Otherwise another request took the last unit of the credential we aimed at
        // while others still have some: try again.
    }
    Err(ApiError::internal("resolve", format!("no unit could be taken for {owner} after {MAX_ROUNDS} rounds")))
}

pub(crate) fn exhausted_error(owner: &Owner, provider: &ProviderId) -> ApiError {
    ApiError::QuotaExhausted(format!(
        "every `{provider}` credential of {owner} has reached its monthly limit or token budget"
    ))
}

/// Opens a granted credential's secrets. One that does not open is marked failing and
/// the request fails: it is never silently replaced by someone else's key.
pub(crate) async fn open_secrets(state: &AppState, c: &Credential) -> Result<SecretFields, ApiError> {
    match state.keyring.open(&binding(c), &c.sealed) {
        Ok(secrets) => Ok(secrets),
        Err(e) => {
            tracing::error!(credential_id = %c.id, owner = %c.owner, error = %e, "credential secret did not open; marked failing");
            let message = "the stored secret could not be opened; store the credential again";
            state.store.mark_failing(&c.id, message, state.clock.now()).await?;
            Err(ApiError::CredentialUnreadable(format!(
                "credential {} of {} could not be opened and is now marked failing",
                c.id, c.owner
            )))
        }
    }
}

/// The owner's pick when it has no monthly limit, from the cache or else the store
/// (its secrets opened once, then kept with the entry). `None` when the pick has a
/// limit, needs its period rolled over, or there is none: then a unit is taken.
pub(crate) async fn unlimited_pick(
    state: &AppState,
    owner: &Owner,
    provider: &ProviderId,
    period: Timestamp,
) -> Result<Option<Arc<Pick>>, ApiError> {
    let stamp = match state.credential_cache.pick(owner, provider, period) {
        Lookup::Hit(pick) => return Ok(Some(pick)),
        Lookup::Miss(stamp) => stamp,
    };
    let Some(credential) = state.store.unlimited_pick(owner, provider, period).await? else { return Ok(None) };
    let secrets = open_secrets(state, &credential).await?;
    let pick = Arc::new(Pick { credential, secrets });
    if let Some(stamp) = stamp {
        state.credential_cache.put_pick(stamp, period, pick.clone());
    }
    Ok(Some(pick))
}
