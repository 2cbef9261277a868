//! `GET /v1/availability`: per provider, whether a key would be found for a user or
//! org and from which tier, walked as `/v1/resolve` walks it, without taking a unit.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::State;
use byok_core::{
    Credential, CredentialId, OrgId, Owner, Principal, ProviderId, Role, Status, Tier, Timestamp, UserId,
    resolution_chain,
};
use byok_store::CredentialFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::extract::ApiQuery;
use crate::routes::credentials::forbidden_owner;
use crate::sealing::current_period;
use crate::token_counts::token_counts;
use crate::{ApiError, AppState};

const PAGE: u32 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityQuery {
    /// The product's bare user id. With neither `user` nor `org`, a user token asks
    /// for its own user.
    pub user: Option<String>,
    /// The product's bare org id.
    pub org: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderAvailability {
    #[schema(example = "openai")]
    pub provider: String,
    /// Whether a request for this provider would be served now.
    pub usable: bool,
    /// The tier the key would come from (`user`, `org`, `platform`), or, when not
    /// usable, the tier whose keys are all at their monthly limit; null when no tier
    /// has one.
    #[schema(example = "org")]
    pub source: Option<&'static str>,
    /// The credential that would be used (`env:<provider>` for a platform key from
    /// the environment); null for a platform credential the caller may not see.
    pub credential_id: Option<String>,
    /// That credential's status (`connected`, `verifying`, `unverified` …).
    pub status: Option<String>,
    /// Why it is not usable: `quota_exhausted` or `no_credential`; null when usable.
    pub reason: Option<&'static str>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Availability {
    pub user: Option<String>,
    pub org: Option<String>,
    /// Every provider of the catalog, in catalog order.
    pub items: Vec<ProviderAvailability>,
}

/// Which providers a user (and org) can use and from which tier, as `/v1/resolve`
/// would find them: no unit is taken, nothing is written.
#[utoipa::path(get, path = "/v1/availability", tag = "resolve", security(("bearer" = [])), params(AvailabilityQuery),
    responses(
        (status = 200, body = Availability),
        (status = 400, description = "malformed query (`invalid_query`)", body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, description = "a user or org the token may not act for", body = crate::Problem, content_type = "application/problem+json"),
    ))]
pub async fn availability(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiQuery(query): ApiQuery<AvailabilityQuery>,
) -> Result<Json<Availability>, ApiError> {
    let user = query.user.as_deref().map(UserId::parse).transpose()?;
    let org = query.org.as_deref().map(OrgId::parse).transpose()?;
    let user = match (user, &principal.owner) {
        (None, Some(Owner::User(own))) if principal.role == Role::User && org.is_none() => Some(own.clone()),
        (user, _) => user,
    };
    let items = availability_of(&state, &principal, user.as_ref(), org.as_ref()).await?;
    Ok(Json(Availability { user: user.map(|u| u.to_string()), org: org.map(|o| o.to_string()), items }))
}

/// Availability of every provider for `user` and `org`, after checking that
/// `principal` may act for both (the API's and the settings page's one path).
pub(crate) async fn availability_of(
    state: &AppState,
    principal: &Principal,
    user: Option<&UserId>,
    org: Option<&OrgId>,
) -> Result<Vec<ProviderAvailability>, ApiError> {
    for owner in user.cloned().map(Owner::User).into_iter().chain(org.cloned().map(Owner::Org)) {
        if !principal.can_manage(&owner) {
            return Err(forbidden_owner(&owner));
        }
    }
    let org_allows_platform = match org {
        Some(org) => state.credential_cache.org_allows_platform(org).await?,
        None => true,
    };
    let chain = resolution_chain(user, org, true, org_allows_platform);
    let mut tiers = Vec::with_capacity(chain.len());
    for (tier, owner) in chain {
        tiers.push((tier, credentials_by_provider(state, &owner).await?));
    }
    let period = current_period(state);
    let spent = budgets_spent(state, &tiers).await?;
    let platform_ids_visible = matches!(principal.role, Role::Admin | Role::Service);
    Ok(state
        .catalog
        .providers()
        .map(|spec| {
            let found = tiers.iter().find_map(|(tier, by_provider)| {
                let held = by_provider.get(&spec.id).map(Vec::as_slice).unwrap_or_default();
                tier_answer(*tier, held, (period, &spent), platform_ids_visible || *tier != Tier::Platform).or_else(
                    || {
                        let env = (*tier == Tier::Platform).then(|| state.platform_env.get(&spec.id)).flatten()?;
                        Some(ProviderAvailability {
                            provider: String::new(),
                            usable: true,
                            source: Some(Tier::Platform.as_str()),
                            credential_id: Some(format!("env:{}", env.provider)),
                            status: None,
                            reason: None,
                        })
                    },
                )
            });
            let nothing = ProviderAvailability {
                provider: String::new(),
                usable: false,
                source: None,
                credential_id: None,
                status: None,
                reason: Some("no_credential"),
            };
            ProviderAvailability { provider: spec.id.to_string(), ..found.unwrap_or(nothing) }
        })
        .collect())
}

/// The credentials among `tiers` whose token budget is spent this period.
async fn budgets_spent(
    state: &AppState,
    tiers: &[(Tier, HashMap<ProviderId, Vec<Credential>>)],
) -> Result<HashSet<CredentialId>, ApiError> {
    let budgeted: Vec<Credential> = tiers
        .iter()
        .flat_map(|(_, by_provider)| by_provider.values().flatten())
        .filter(|c| c.monthly_token_limit.is_some())
        .cloned()
        .collect();
    if budgeted.is_empty() {
        return Ok(HashSet::new());
    }
    let tokens = token_counts(state, &budgeted).await?;
    Ok(budgeted
        .iter()
        .filter(|c| c.monthly_token_limit.is_some_and(|budget| tokens.get(&c.id).is_some_and(|t| t.period >= budget)))
        .map(|c| c.id)
        .collect())
}

/// What one tier answers for a provider, as resolve's take would: the usable
/// credential first by priority that has quota left; `quota_exhausted` when every
/// usable one is at its limit or token budget (resolve stops there); `None` when it has
/// no usable one.
fn tier_answer(
    tier: Tier,
    held: &[Credential],
    (period, spent): (Timestamp, &HashSet<CredentialId>),
    id_visible: bool,
) -> Option<ProviderAvailability> {
    let exhausted = |c: &Credential| {
        (c.period_start >= period && c.monthly_limit.is_some_and(|limit| c.usage_period >= limit))
            || spent.contains(&c.id)
    };
    let mut usable: Vec<&Credential> = held.iter().filter(|c| c.enabled && c.status != Status::Error).collect();
    usable.sort_by_key(|c| (c.priority, c.id));
    let first = *usable.first()?;
    let (chosen, reason) = match usable.iter().find(|c| !exhausted(c)) {
        Some(c) => (*c, None),
        None => (first, Some("quota_exhausted")),
    };
    Some(ProviderAvailability {
        provider: String::new(),
        usable: reason.is_none(),
        source: Some(tier.as_str()),
        credential_id: id_visible.then(|| chosen.id.to_string()),
        status: Some(chosen.effective_status().to_string()),
        reason,
    })
}

/// Every credential of `owner`, by provider.
async fn credentials_by_provider(
    state: &AppState,
    owner: &Owner,
) -> Result<HashMap<ProviderId, Vec<Credential>>, ApiError> {
    let mut by_provider: HashMap<ProviderId, Vec<Credential>> = HashMap::new();
    let mut after = None;
    loop {
        let filter = CredentialFilter {
            owners: Some(vec![owner.clone()]),
            provider: None,
            exclude_platform: false,
            after,
            limit: PAGE,
        };
        let page = state.store.list_credentials(&filter).await?;
        let full = page.len() == PAGE as usize;
        after = page.last().map(|c| c.id);
        for c in page {
            by_provider.entry(c.provider.clone()).or_default().push(c);
        }
        if !full {
            return Ok(by_provider);
        }
    }
}
