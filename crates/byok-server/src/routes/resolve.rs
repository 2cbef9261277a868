//! `POST /v1/resolve`: which key to use for this user and provider, metered.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use byok_core::{
    AuditAction, AuditEvent, Credential, CredentialId, OrgId, Owner, Principal, ProviderId, ProviderSpec, Role,
    SecretFields, Tier, UserId, resolution_chain,
};
use byok_providers::ShortLived;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, RequestInfo, about_credential, credential_event};
use crate::auth::Auth;
use crate::extract::ApiJson;
use crate::minute_limits::OverLimit;
use crate::routes::take::{
    TierOutcome, admit_credential, exhausted_error, minute_limit_error, next_usable, open_secrets, take_from_tier,
    undo_take, unlimited_pick,
};
use crate::usage_writer::UsageEvent;
use crate::{ApiError, AppState};

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
    /// `key` (the stored fields) or `short_lived` (for `gcp`, `azure` and `aws`: a token
    /// or session minted from the stored key, which itself never leaves byok).
    #[serde(default)]
    pub form: Form,
    /// What a `short_lived` token is for (`gcp`: OAuth scopes, space-separated, default
    /// `https://www.googleapis.com/auth/cloud-platform`; `azure`: default
    /// `https://cognitiveservices.azure.com/.default`).
    #[schema(example = "https://www.googleapis.com/auth/cloud-platform")]
    pub scope: Option<String>,
}

/// What `resolve` answers with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    #[default]
    Key,
    ShortLived,
}

/// The longest `scope` taken.
const MAX_SCOPE_LEN: usize = 1024;

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
    /// For `"form": "short_lived"`: when the minted credential stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// What was asked for: the stored fields, or a credential minted for `scope`.
struct Asked {
    form: Form,
    scope: Option<String>,
}

/// Walks `user → org → platform`; takes one unit of quota from the first usable
/// credential and answers its fields, or for `"form": "short_lived"` a token or session
/// minted from them (cached until shortly before it expires).
#[utoipa::path(post, path = "/v1/resolve", tag = "resolve", security(("bearer" = [])), request_body = ResolveRequest,
    responses(
        (status = 200, body = Resolved),
        (status = 403, description = "not a service token (`forbidden`), or the org's cloud credentials leave only short-lived (`short_lived_only`)", body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no usable credential (`no_credential`, with `tiers`)", body = crate::Problem, content_type = "application/problem+json"),
        (status = 429, description = "the tier's credentials are at their monthly limits (`quota_exhausted`) or per-minute limits (`rate_limited`, with `retry-after`)", body = crate::Problem, content_type = "application/problem+json"),
        (status = 502, description = "the cloud did not mint a short-lived credential from the stored one (`mint_failed`)", body = crate::Problem, content_type = "application/problem+json"),
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
    let spec = state.catalog.get(&body.provider)?;
    let provider = spec.id.clone();
    let asked = asked(spec, body.form, body.scope)?;
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
        if let Owner::Org(org) = owner
            && asked.form == Form::Key
            && byok_providers::mints_short_lived(spec)
            && state.store.org_short_lived_only(org).await?
        {
            return Err(ApiError::ShortLivedOnly(format!(
                "{owner}'s `{provider}` credentials are resolved only with `\"form\": \"short_lived\"`"
            )));
        }
        // The read is audited in the same transaction that takes its unit: the secret
        // leaves only after both are durable.
        let mut audit = audit::event(&principal, &info, AuditAction::CredentialResolve, "ok");
        audit.detail = Some(match asked.form {
            Form::Key => format!("source {tier}"),
            Form::ShortLived => format!("source {tier}; short-lived"),
        });
        // Without a limit nothing is taken: the read is audited, durable before the
        // secret leaves, and counted after the fact like a proxied request.
        if let Some(pick) = unlimited_pick(&state, owner, &provider, period).await? {
            if let Err(over) = admit_credential(&state, &pick.credential).await? {
                let first = (pick.credential.id, over);
                return past_minute_limit(&state, &principal, &info, (*tier, owner, &provider), first, audit, &asked)
                    .await;
            }
            state.audit.record(about_credential(audit, &pick.credential)).await?;
            state.usage.record(UsageEvent::resolve(pick.credential.id));
            return answer(&state, &principal, &info, *tier, &pick.credential, &pick.secrets, &asked).await;
        }
        match take_from_tier(&state, owner, &provider, period, now, &audit).await? {
            TierOutcome::Granted(credential) => {
                if let Err(over) = admit_credential(&state, &credential).await? {
                    undo_take(&state, &credential, period, audit.clone()).await?;
                    let first = (credential.id, over);
                    return past_minute_limit(
                        &state,
                        &principal,
                        &info,
                        (*tier, owner, &provider),
                        first,
                        audit,
                        &asked,
                    )
                    .await;
                }
                return open_answer(&state, &principal, &info, *tier, *credential, &asked).await;
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
                    if asked.form == Form::ShortLived {
                        event.detail = Some("short-lived".to_owned());
                    }
                    state.audit.record(event).await?;
                    return env_answer(&state, env, &asked).await.map(Json);
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

/// The form and scope asked for, checked against what `spec` can mint.
fn asked(spec: &ProviderSpec, form: Form, scope: Option<String>) -> Result<Asked, ApiError> {
    if form == Form::ShortLived && !byok_providers::mints_short_lived(spec) {
        return Err(ApiError::InvalidField(format!(
            "`form: short_lived` is for the cloud providers (gcp, azure, aws), not `{}`",
            spec.id
        )));
    }
    if let Some(scope) = &scope {
        if form != Form::ShortLived || !byok_providers::takes_scope(spec) {
            return Err(ApiError::InvalidField(format!(
                "`scope` applies to `form: short_lived` of gcp and azure, not to `{}`",
                spec.id
            )));
        }
        let printable = scope.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if scope.trim().is_empty() || scope.len() > MAX_SCOPE_LEN || !printable {
            return Err(ApiError::InvalidField(format!(
                "`scope` must be 1 to {MAX_SCOPE_LEN} printable ASCII characters (scopes separated by spaces)"
            )));
        }
    }
    Ok(Asked { form, scope })
}

/// The owner's first pick was at its per-minute limit: the tier's next credential that
/// is not (its read audited before it leaves, and counted), or 429 `rate_limited`.
async fn past_minute_limit(
    state: &AppState,
    principal: &Principal,
    info: &RequestInfo,
    (tier, owner, provider): (Tier, &Owner, &ProviderId),
    (first, over): (CredentialId, OverLimit),
    audit: AuditEvent,
    asked: &Asked,
) -> Result<Json<Resolved>, ApiError> {
    let period = state.settings.period_anchor.period_start(state.clock.now());
    let Some(c) = next_usable(state, owner, provider, &[first], period).await? else {
        return Err(minute_limit_error(owner, provider, over));
    };
    state.audit.record(about_credential(audit, &c)).await?;
    if !c.is_limited() {
        state.usage.record(UsageEvent::resolve(c.id));
    }
    open_answer(state, principal, info, tier, c, asked).await
}

async fn open_answer(
    state: &AppState,
    principal: &Principal,
    info: &RequestInfo,
    tier: Tier,
    c: Credential,
    asked: &Asked,
) -> Result<Json<Resolved>, ApiError> {
    let secrets = match open_secrets(state, &c).await {
        Ok(secrets) => secrets,
        Err(e) => {
            state.audit.record(credential_event(principal, info, AuditAction::CredentialResolve, "failed", &c)).await?;
            return Err(e);
        }
    };
    answer(state, principal, info, tier, &c, &secrets, asked).await
}

/// The answer with `c`'s fields (`secrets` opened), or a credential minted from them.
async fn answer(
    state: &AppState,
    principal: &Principal,
    info: &RequestInfo,
    tier: Tier,
    c: &Credential,
    secrets: &SecretFields,
    asked: &Asked,
) -> Result<Json<Resolved>, ApiError> {
    let (fields, expires_at) = match asked.form {
        Form::Key => (stored_fields(&c.config, secrets), None),
        Form::ShortLived => {
            let minted =
                short_lived(state, &c.id.to_string(), c.revision, &c.provider, &c.config, secrets, asked).await;
            let minted = match minted {
                Ok(minted) => minted,
                Err(e) => {
                    let event = credential_event(principal, info, AuditAction::CredentialResolve, "failed", c);
                    state.audit.record(event).await?;
                    return Err(e);
                }
            };
            minted_fields(&minted)
        }
    };
    tracing::info!(credential_id = %c.id, owner = %c.owner, provider = %c.provider, source = %tier, "credential resolved");
    Ok(Json(Resolved {
        credential_id: c.id.to_string(),
        source: tier.as_str(),
        owner: c.owner.to_string(),
        provider: c.provider.to_string(),
        label: Some(c.label.as_str().to_owned()),
        version: Some(c.version),
        fields,
        expires_at,
    }))
}

async fn env_answer(state: &AppState, env: &byok_core::EnvCredential, asked: &Asked) -> Result<Resolved, ApiError> {
    let credential_id = format!("env:{}", env.provider);
    let (fields, expires_at) = match asked.form {
        Form::Key => (stored_fields(&env.config, &env.secrets), None),
        Form::ShortLived => {
            let minted = short_lived(state, &credential_id, 0, &env.provider, &env.config, &env.secrets, asked).await?;
            minted_fields(&minted)
        }
    };
    tracing::info!(provider = %env.provider, "platform credential resolved from the environment");
    Ok(Resolved {
        credential_id,
        source: Tier::Platform.as_str(),
        owner: Owner::Platform.to_string(),
        provider: env.provider.to_string(),
        label: None,
        version: None,
        fields,
        expires_at,
    })
}

/// The short-lived credential for `credential` (at `revision`) and the scope asked,
/// from the cache or minted now.
async fn short_lived(
    state: &AppState,
    credential: &str,
    revision: i64,
    provider: &ProviderId,
    config: &BTreeMap<String, String>,
    secrets: &SecretFields,
    asked: &Asked,
) -> Result<Arc<ShortLived>, ApiError> {
    let spec = state.catalog.get(provider.as_str())?;
    let scope = asked.scope.as_deref();
    let minted = state.short_lived.mint(&state.prober, spec, (credential, revision), config, secrets, scope).await;
    minted.map_err(|failure| ApiError::MintFailed(failure.message))
}

/// A credential's stored fields, public and secret, as the answer carries them.
fn stored_fields(config: &BTreeMap<String, String>, secrets: &SecretFields) -> BTreeMap<String, String> {
    let mut fields = config.clone();
    fields.extend(secrets.iter().map(|(k, v)| (k.clone(), v.expose().to_owned())));
    fields
}

/// A minted credential's fields and expiry, as the answer carries them.
fn minted_fields(minted: &ShortLived) -> (BTreeMap<String, String>, Option<String>) {
    let fields = minted.fields.iter().map(|(k, v)| (k.clone(), v.expose().to_owned())).collect();
    (fields, Some(minted.expires_at.to_rfc3339()))
}
