//! `POST /v1/resolve`: which key to use for this user and provider, metered.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use byok_core::{
    AuditAction, AuditEvent, Credential, OrgId, Owner, Principal, ProviderId, Role, SecretFields, Tier, Timestamp,
    UserId, resolution_chain,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, RequestInfo, credential_event};
use crate::auth::Auth;
use crate::extract::ApiJson;
use crate::sealing::binding;
use crate::{ApiError, AppState};

/// A take that keeps losing races gives up after this many rounds.
const MAX_ROUNDS: usize = 8;

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    #[schema(example = "openai")]
    pub provider: String,
    /// The product's bare user id.
    #[schema(example = "alice")]
    pub user: Option<String>,
    /// The product's bare org id.
    #[schema(example = "acme")]
    pub org: Option<String>,
    /// `false`: only the first tier asked for (the user's, else the org's).
    #[serde(default = "yes")]
    pub fallback: bool,
    /// `true`: when a tier's credentials are all at their limit, move on to the next tier
    /// instead of answering 429.
    #[serde(default)]
    pub fallback_on_exhausted: bool,
}

/// The chosen credential with its fields in plaintext. Only service principals get
/// this answer; it deliberately has no `Debug`.
#[derive(Serialize, ToSchema)]
pub struct Resolved {
    /// The credential's id, or `env:<provider>` for a platform key from the environment.
    pub credential_id: String,
    /// `user`, `org` or `platform`.
    pub source: &'static str,
    pub owner: String,
    pub provider: String,
    pub label: Option<String>,
    pub version: Option<i64>,
    pub fields: BTreeMap<String, String>,
}

pub(crate) enum TierOutcome {
    Granted(Box<Credential>),
    Exhausted,
    Nothing,
}

/// Walks `user → org → platform`; takes one unit of quota from the first usable
/// credential and answers its fields.
#[utoipa::path(post, path = "/v1/resolve", tag = "resolve", security(("bearer" = [])), request_body = ResolveRequest,
    responses(
        (status = 200, body = Resolved),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no usable credential (`no_credential`, with `tiers`)", body = crate::Problem, content_type = "application/problem+json"),
        (status = 429, description = "the tier's credentials are at their limits (`quota_exhausted`)", body = crate::Problem, content_type = "application/problem+json"),
    ))]
pub async fn resolve(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    ApiJson(body): ApiJson<ResolveRequest>,
) -> Result<Json<Resolved>, ApiError> {
    if principal.role != Role::Service {
        return Err(ApiError::Forbidden("only service tokens may resolve secrets".into()));
    }
    let provider = state.catalog.get(&body.provider)?.id.clone();
    let user = body.user.as_deref().map(UserId::parse).transpose()?;
    let org = body.org.as_deref().map(OrgId::parse).transpose()?;
    let org_allows_platform = match &org {
        Some(org) => state.credential_cache.org_allows_platform(org).await?,
        None => true,
    };
    let chain = resolution_chain(user.as_ref(), org.as_ref(), body.fallback, org_allows_platform);
    let now = state.clock.now();
    let period = state.settings.period_anchor.period_start(now);
    let mut exhausted: Option<&Owner> = None;
    for (tier, owner) in &chain {
        // The read is audited in the same transaction that takes its unit: the secret
        // leaves only after both are durable.
        let mut audit = audit::event(&principal, &info, AuditAction::CredentialResolve, "ok");
        audit.detail = Some(format!("source {tier}"));
        match take_from_tier(&state, owner, &provider, period, now, &audit).await? {
            TierOutcome::Granted(credential) => {
                return open_answer(&state, &principal, &info, *tier, *credential).await;
            }
            TierOutcome::Exhausted if !body.fallback_on_exhausted => return Err(exhausted_error(owner, &provider)),
            TierOutcome::Exhausted => {
                exhausted.get_or_insert(owner);
            }
            TierOutcome::Nothing if *tier == Tier::Platform => {
                if let Some(env) = state.platform_env.get(&provider) {
                    let mut event = audit::event(&principal, &info, AuditAction::CredentialResolve, "ok");
                    event.owner = Some(Owner::Platform.to_string());
                    event.credential_id = Some(format!("env:{provider}"));
                    event.provider = Some(provider.to_string());
                    state.audit.record(event).await?;
                    return Ok(Json(env_answer(env)));
                }
            }
            TierOutcome::Nothing => {}
        }
    }
    if let Some(owner) = exhausted {
        return Err(exhausted_error(owner, &provider));
    }
    let tiers: Vec<String> = chain.iter().map(|(_, owner)| owner.to_string()).collect();
    Err(ApiError::NoCredential {
        detail: format!("no usable `{provider}` credential for {}", tiers.join(", then ")),
        tiers,
    })
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
    ApiError::QuotaExhausted(format!("every `{provider}` credential of {owner} has reached its monthly limit"))
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

async fn open_answer(
    state: &AppState,
    principal: &Principal,
    info: &RequestInfo,
    tier: Tier,
    c: Credential,
) -> Result<Json<Resolved>, ApiError> {
    let secrets = match open_secrets(state, &c).await {
        Ok(secrets) => secrets,
        Err(e) => {
            state.audit.record(credential_event(principal, info, AuditAction::CredentialResolve, "failed", &c)).await?;
            return Err(e);
        }
    };
    let mut fields = c.config.clone();
    fields.extend(secrets.iter().map(|(k, v)| (k.clone(), v.expose().to_owned())));
    tracing::info!(credential_id = %c.id, owner = %c.owner, provider = %c.provider, source = %tier, "credential resolved");
    Ok(Json(Resolved {
        credential_id: c.id.to_string(),
        source: tier.as_str(),
        owner: c.owner.to_string(),
        provider: c.provider.to_string(),
        label: Some(c.label.as_str().to_owned()),
        version: Some(c.version),
        fields,
    }))
}

fn env_answer(env: &byok_core::EnvCredential) -> Resolved {
    let mut fields = env.config.clone();
    fields.extend(env.secrets.iter().map(|(k, v)| (k.clone(), v.expose().to_owned())));
    tracing::info!(provider = %env.provider, "platform credential resolved from the environment");
    Resolved {
        credential_id: format!("env:{}", env.provider),
        source: Tier::Platform.as_str(),
        owner: Owner::Platform.to_string(),
        provider: env.provider.to_string(),
        label: None,
        version: None,
        fields,
    }
}
