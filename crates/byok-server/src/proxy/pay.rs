//! Who pays for one proxied request: a unit from the virtual key's own limit, then a
//! unit from the first usable credential along the caller's chain, taken exactly as
//! `resolve` takes it (an exhausted tier refuses rather than moving the bill on). A
//! credential without a monthly limit has nothing to overrun: it comes from the
//! instance's credential cache, and its use is spooled for the audit log with the
//! request it counts (of the credential, and of a virtual key without a limit), both
//! committed in the spool's next batch, which keeps the database off the request path.
//! Per-minute limits (the key's, then the credential's) spend units this instance
//! leased (`crate::minute_limits`).

use std::collections::BTreeMap;
use std::sync::Arc;

use byok_core::{
    AuditAction, AuditEvent, CredentialId, EnvCredential, Owner, ProviderId, ProviderSpec, SecretFields, Tier,
};

use super::caller::Caller;
use super::refusal::Refusal;
use crate::AppState;
use crate::audit::{RequestInfo, about_credential};
use crate::audit_spool::UseCounts;
use crate::credential_cache::Pick;
use crate::minute_limits::{Limited, OverLimit};
use crate::routes::{
    TierOutcome, admit_credential, exhausted_error, minute_limit_error, next_usable, open_secrets, take_from_tier,
    undo_take, unlimited_pick, usable_in_order,
};

/// The credential a request goes out with.
pub(super) struct Paid<'a> {
    keys: Keys<'a>,
    /// Whether the request is still to be counted on the credential.
    pub count_later: bool,
    /// Whether the request is counted on the virtual key already (with its spooled use).
    pub key_counted: bool,
}

/// Where the request's keys come from: shared, never copied per request.
enum Keys<'a> {
    /// A stored credential of a tier, its secrets opened (from the cache, or for this
    /// request).
    Stored(Arc<Pick>, Tier),
    /// A platform key from the environment (not metered).
    Env(&'a EnvCredential),
}

impl Paid<'_> {
    /// `None` for a platform key from the environment.
    pub fn credential(&self) -> Option<CredentialId> {
        match &self.keys {
            Keys::Stored(pick, _) => Some(pick.credential.id),
            Keys::Env(_) => None,
        }
    }

    /// The stored credential and the version of its secret that went out.
    pub fn stored_version(&self) -> Option<(CredentialId, i64)> {
        match &self.keys {
            Keys::Stored(pick, _) => Some((pick.credential.id, pick.credential.version)),
            Keys::Env(_) => None,
        }
    }

    /// Whether the stored credential has a token budget.
    pub fn token_budgeted(&self) -> bool {
        matches!(&self.keys, Keys::Stored(pick, _) if pick.credential.monthly_token_limit.is_some())
    }

    /// The tier of a stored credential (none for a platform key from the environment).
    pub fn tier(&self) -> Option<Tier> {
        match &self.keys {
            Keys::Stored(_, tier) => Some(*tier),
            Keys::Env(_) => None,
        }
    }

    pub fn owner(&self) -> &Owner {
        match &self.keys {
            Keys::Stored(pick, _) => &pick.credential.owner,
            Keys::Env(_) => &Owner::Platform,
        }
    }

    pub fn config(&self) -> &BTreeMap<String, String> {
        match &self.keys {
            Keys::Stored(pick, _) => &pick.credential.config,
            Keys::Env(env) => &env.config,
        }
    }

    /// What short-lived tokens minted from this credential are cached under: the
    /// credential and its revision (an environment credential never changes).
    pub fn token_key(&self) -> (String, i64) {
        match &self.keys {
            Keys::Stored(pick, _) => (pick.credential.id.to_string(), pick.credential.revision),
            Keys::Env(env) => (format!("env:{}", env.provider), 0),
        }
    }

    pub fn secrets(&self) -> &SecretFields {
        match &self.keys {
            Keys::Stored(pick, _) => &pick.secrets,
            Keys::Env(env) => &env.secrets,
        }
    }
}

/// Takes the request's units; a unit taken from the key is given back when no
/// credential can pay.
pub(super) async fn take_units<'a>(
    state: &'a AppState,
    spec: &ProviderSpec,
    caller: &Caller,
    info: &RequestInfo,
) -> Result<Paid<'a>, Refusal> {
    let now = state.clock.now();
    let period = state.settings.period_anchor.period_start(now);
    if let Some(key) = &caller.virtual_key
        && let Some(limit) = key.rate_limit_per_minute
        && let Err(over) =
            state.minute_limits.admit(state.store.as_ref(), &Limited::VirtualKey(key.token_id), limit, now).await?
    {
        return Err(Refusal::RateLimited {
            message: format!("this virtual key has used its limit of {limit} requests per minute"),
            retry_after_secs: over.retry_after_secs,
        });
    }
    if let Some(key) = &caller.virtual_key
        && let Some(budget) = key.monthly_token_limit
    {
        // Read from the database each time: tokens counted on any instance are seen.
        let usage = state.store.virtual_key_usage(&key.token_id, period).await?;
        if usage.is_some_and(|u| u.tokens_period >= budget) {
            return Err(Refusal::KeyTokensExhausted(budget));
        }
    }
    let limited = caller.virtual_key.as_ref().and_then(|k| k.monthly_limit.map(|limit| (k.token_id, limit)));
    if let Some((token_id, limit)) = limited
        && !state.store.take_virtual_unit(&token_id, period, now).await?
    {
        return Err(Refusal::KeyQuotaExhausted(limit));
    }
    let paid = credential(state, spec, caller, info, period, now).await;
    if let (Err(_), Some((token_id, _))) = (&paid, limited)
        && let Err(e) = state.store.return_virtual_unit(&token_id, period).await
    {
        tracing::error!(virtual_key = %token_id, error = %e, "a refused request's unit could not be given back");
    }
    paid
}

async fn credential<'a>(
    state: &'a AppState,
    spec: &ProviderSpec,
    caller: &Caller,
    info: &RequestInfo,
    period: byok_core::Timestamp,
    now: byok_core::Timestamp,
) -> Result<Paid<'a>, Refusal> {
    for (tier, owner) in &caller.chain {
        let audit = use_event(caller, info, format!("source {tier}"));
        // Without a limit nothing is taken: the secret's use is spooled for the audit
        // log before it goes out, with the requests it counts.
        if let Some(pick) = unlimited_pick(state, owner, &spec.id, period).await? {
            if let Err(over) = admit_credential(state, &pick.credential).await? {
                return past_minute_limit(state, spec, caller, info, (*tier, owner), pick.credential.id, over).await;
            }
            let unlimited_key = caller.virtual_key.as_ref().filter(|k| k.monthly_limit.is_none()).map(|k| k.token_id);
            let counts =
                UseCounts { credential: Some(pick.credential.id), virtual_key: unlimited_key, period: period.millis() };
            state
                .audit
                .submit(about_credential(audit, &pick.credential), Some(counts))
                .await
                .map_err(|e| Refusal::internal("audit", e))?;
            return Ok(Paid { key_counted: unlimited_key.is_some(), ..paid(*tier, pick, false) });
        }
        // Otherwise the use is audited in the transaction that takes its unit.
        match take_from_tier(state, owner, &spec.id, period, now, &audit).await? {
            TierOutcome::Granted(c) => {
                if let Err(over) = admit_credential(state, &c).await? {
                    undo_take(state, &c, period, audit).await?;
                    return past_minute_limit(state, spec, caller, info, (*tier, owner), c.id, over).await;
                }
                let secrets = open_secrets(state, &c).await?;
                return Ok(paid(*tier, Arc::new(Pick { credential: *c, secrets }), false));
            }
            TierOutcome::Exhausted => return Err(exhausted_error(owner, &spec.id).into()),
            TierOutcome::Nothing if *tier == Tier::Platform => {
                if let Some(env) = state.platform_env.get(&spec.id) {
                    tracing::info!(provider = %spec.id, "platform credential from the environment used by the proxy");
                    state.audit.record(env_used(audit, &spec.id)).await.map_err(|e| Refusal::internal("audit", e))?;
                    return Ok(Paid { keys: Keys::Env(env), count_later: false, key_counted: false });
                }
            }
            TierOutcome::Nothing => {}
        }
    }
    Err(no_credential(&spec.id, caller))
}

/// The credential a poll goes out with (a request of the provider's `proxy_polls`):
/// the owner's best usable one along the chain, found without taking a unit of the
/// key or the credential and whatever their monthly limits say, as the work it checks
/// on was paid for when it was created. Its use is audited like any other.
pub(super) async fn for_poll<'a>(
    state: &'a AppState,
    spec: &ProviderSpec,
    caller: &Caller,
    info: &RequestInfo,
) -> Result<Paid<'a>, Refusal> {
    let period = state.settings.period_anchor.period_start(state.clock.now());
    for (tier, owner) in &caller.chain {
        let pick = match unlimited_pick(state, owner, &spec.id, period).await? {
            Some(pick) => Some(pick),
            None => match first_usable(state, owner, &spec.id).await? {
                Some(c) => {
                    let secrets = open_secrets(state, &c).await?;
                    Some(Arc::new(Pick { credential: c, secrets }))
                }
                None => None,
            },
        };
        let audit = use_event(caller, info, format!("source {tier}; a poll, not counted"));
        if let Some(pick) = pick {
            state
                .audit
                .submit(about_credential(audit, &pick.credential), None)
                .await
                .map_err(|e| Refusal::internal("audit", e))?;
            return Ok(paid(*tier, pick, false));
        }
        if *tier == Tier::Platform
            && let Some(env) = state.platform_env.get(&spec.id)
        {
            state.audit.submit(env_used(audit, &spec.id), None).await.map_err(|e| Refusal::internal("audit", e))?;
            return Ok(Paid { keys: Keys::Env(env), count_later: false, key_counted: false });
        }
    }
    Err(no_credential(&spec.id, caller))
}

/// `owner`'s next usable credential of `tier` for a request sent again, skipping the
/// `tried` ones, in the order `take_unit` tries them; its use is audited before the
/// request goes out. `None` when the owner has no other.
pub(super) async fn next_of_owner<'a>(
    state: &'a AppState,
    spec: &ProviderSpec,
    caller: &Caller,
    info: &RequestInfo,
    (tier, owner): (Tier, &Owner),
    tried: &[CredentialId],
) -> Result<Option<Paid<'a>>, Refusal> {
    let detail = format!("source {tier}; attempt {}", tried.len() + 1);
    another_of_owner(state, spec, caller, info, (tier, owner), tried, detail).await
}

/// The owner's first pick was at its per-minute limit: the next of the tier that is
/// not, or 429 `rate_limited` (the bill never moves to another tier for it).
async fn past_minute_limit<'a>(
    state: &'a AppState,
    spec: &ProviderSpec,
    caller: &Caller,
    info: &RequestInfo,
    (tier, owner): (Tier, &Owner),
    first: CredentialId,
    over: OverLimit,
) -> Result<Paid<'a>, Refusal> {
    let detail = format!("source {tier}; the first pick was at its per-minute limit");
    another_of_owner(state, spec, caller, info, (tier, owner), &[first], detail)
        .await?
        .ok_or_else(|| minute_limit_error(owner, &spec.id, over).into())
}

/// [`next_usable`] for the proxy: the credential's use audited and its secrets opened.
async fn another_of_owner<'a>(
    state: &'a AppState,
    spec: &ProviderSpec,
    caller: &Caller,
    info: &RequestInfo,
    (tier, owner): (Tier, &Owner),
    tried: &[CredentialId],
    detail: String,
) -> Result<Option<Paid<'a>>, Refusal> {
    let period = state.settings.period_anchor.period_start(state.clock.now());
    let Some(c) = next_usable(state, owner, &spec.id, tried, period).await? else { return Ok(None) };
    let audit = use_event(caller, info, detail);
    state.audit.record(about_credential(audit, &c)).await.map_err(|e| Refusal::internal("audit", e))?;
    let secrets = open_secrets(state, &c).await?;
    let count_later = !c.is_limited();
    Ok(Some(paid(tier, Arc::new(Pick { credential: c, secrets }), count_later)))
}

/// `owner`'s usable credential for `provider` in the order `take_unit` tries them
/// (priority, then id), its limit aside.
async fn first_usable(
    state: &AppState,
    owner: &Owner,
    provider: &ProviderId,
) -> Result<Option<byok_core::Credential>, Refusal> {
    Ok(usable_in_order(state, owner, provider).await?.into_iter().next())
}

/// `audit` completed with the platform's environment credential for `provider`.
fn env_used(audit: AuditEvent, provider: &ProviderId) -> AuditEvent {
    AuditEvent {
        owner: Some(Owner::Platform.to_string()),
        credential_id: Some(format!("env:{provider}")),
        provider: Some(provider.to_string()),
        ..audit
    }
}

/// No tier of the caller's chain had a usable credential for `provider`.
fn no_credential(provider: &ProviderId, caller: &Caller) -> Refusal {
    let tiers: Vec<String> = caller.chain.iter().map(|(_, owner)| owner.to_string()).collect();
    Refusal::NoCredential(format!("no usable `{provider}` credential for {}", tiers.join(", then ")))
}

/// The audit entry of one proxied use of a secret, before the credential is known.
fn use_event(caller: &Caller, info: &RequestInfo, detail: String) -> AuditEvent {
    AuditEvent {
        actor_token: caller.token_id().map(|t| t.to_string()),
        actor_role: if caller.virtual_key.is_some() { "virtual" } else { "service" }.to_owned(),
        action: AuditAction::CredentialProxy.as_str().to_owned(),
        outcome: "ok".to_owned(),
        request_id: info.request_id.clone(),
        client_addr: info.client_addr.clone(),
        detail: Some(detail),
        ..AuditEvent::default()
    }
}

/// The request goes out with `pick`: counted afterwards, or its unit already taken.
fn paid(tier: Tier, pick: Arc<Pick>, count_later: bool) -> Paid<'static> {
    let c = &pick.credential;
    tracing::debug!(credential_id = %c.id, owner = %c.owner, provider = %c.provider, source = %tier, "credential used by the proxy");
    Paid { keys: Keys::Stored(pick, tier), count_later, key_counted: false }
}
