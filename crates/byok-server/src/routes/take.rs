//! Who pays for a resolve or a proxied request: a unit taken exactly from a credential
//! with a monthly limit, or the owner's pick when it has none (nothing to overrun: it
//! comes from the instance's credential cache and its use is counted after the fact).
//! A credential with a per-minute limit spends a unit of its minute too; one at that
//! limit passes the request to the owner's next usable credential.

use std::sync::Arc;

use byok_core::{AuditEvent, Credential, CredentialId, Owner, ProviderId, SecretFields, Status, Timestamp};
use byok_store::CredentialFilter;

use crate::credential_cache::{Lookup, Pick};
use crate::minute_limits::{Limited, OverLimit};
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

/// Spends a unit of `c`'s per-minute limit, if it has one.
pub(crate) async fn admit_credential(state: &AppState, c: &Credential) -> Result<Result<(), OverLimit>, ApiError> {
    let Some(limit) = c.rate_limit_per_minute else { return Ok(Ok(())) };
    let who = Limited::Credential(c.id);
    Ok(state.minute_limits.admit(state.store.as_ref(), &who, limit, state.clock.now()).await?)
}

/// A credential granted by `take_unit` whose per-minute limit then refused the request:
/// its monthly unit is given back, and the audit log says the secret did not go out
/// after all (`audit` is the entry written with the take).
pub(crate) async fn undo_take(
    state: &AppState,
    c: &Credential,
    period: Timestamp,
    audit: AuditEvent,
) -> Result<(), ApiError> {
    state.store.return_unit_of(&c.id, period).await?;
    let event = AuditEvent {
        outcome: "rate_limited".into(),
        detail: Some("not used: its per-minute limit was reached; the unit taken was given back".into()),
        ..crate::audit::about_credential(audit, c)
    };
    state.audit.record(event).await?;
    Ok(())
}

/// `owner`'s usable credentials for `provider` not yet `tried`, in the order
/// `take_unit` tries them: the first within all its limits, its units taken (a monthly
/// one if it has a monthly limit or token budget, a minute one if it has a per-minute
/// limit).
pub(crate) async fn next_usable(
    state: &AppState,
    owner: &Owner,
    provider: &ProviderId,
    tried: &[CredentialId],
    period: Timestamp,
) -> Result<Option<Credential>, ApiError> {
    for c in usable_in_order(state, owner, provider).await?.into_iter().filter(|c| !tried.contains(&c.id)) {
        // The minute first: a unit of it spent in vain costs nothing durable.
        if admit_credential(state, &c).await?.is_err() {
            continue;
        }
        if c.is_limited() && !state.store.take_unit_of(&c.id, period, state.clock.now()).await? {
            continue;
        }
        return Ok(Some(c));
    }
    Ok(None)
}

/// Every usable credential of the owner's that was left is at its per-minute limit.
pub(crate) fn minute_limit_error(owner: &Owner, provider: &ProviderId, over: OverLimit) -> ApiError {
    ApiError::RateLimited {
        detail: format!("every usable `{provider}` credential of {owner} has reached its per-minute limit"),
        retry_after_secs: over.retry_after_secs,
    }
}

/// `owner`'s usable credentials for `provider`, in the order `take_unit` tries them
/// (priority, then id), their limits aside.
pub(crate) async fn usable_in_order(
    state: &AppState,
    owner: &Owner,
    provider: &ProviderId,
) -> Result<Vec<Credential>, ApiError> {
    let filter = CredentialFilter {
        owners: Some(vec![owner.clone()]),
        provider: Some(provider.clone()),
        exclude_platform: false,
        after: None,
        limit: MAX_CREDENTIALS_LOOKED_AT,
    };
    let mut usable: Vec<_> = state
        .store
        .list_credentials(&filter)
        .await?
        .into_iter()
        .filter(|c| c.enabled && c.status != Status::Error)
        .collect();
    usable.sort_by_key(|c| (c.priority, c.id));
    Ok(usable)
}

/// How many of an owner's credentials for one provider a poll or another attempt looks
/// through.
const MAX_CREDENTIALS_LOOKED_AT: u32 = 1000;
