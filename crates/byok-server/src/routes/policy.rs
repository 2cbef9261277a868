//! `GET/PUT /v1/orgs/{org}/policy`: whether an org's members may fall back to
//! platform credentials, and whether its cloud credentials leave only as short-lived
//! ones.

use axum::Json;
use axum::extract::{Path, State};
use byok_core::{AuditAction, OrgId, Owner, Principal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use byok_store::Change;

use crate::audit::{self, RequestInfo};
use crate::auth::Auth;
use crate::extract::ApiJson;
use crate::routes::credentials::forbidden_owner;
use crate::{ApiError, AppState};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPolicy {
    /// `false`: resolves for this org never use platform credentials.
    pub allow_platform_fallback: bool,
    /// `true`: the org's cloud credentials (gcp, azure, aws) are resolved only with
    /// `"form": "short_lived"`; `"form": "key"` answers `403 short_lived_only`.
    #[serde(default)]
    pub short_lived_only: bool,
}

fn org_for(principal: &Principal, org: &str) -> Result<OrgId, ApiError> {
    let org = OrgId::parse(org)?;
    let owner = Owner::Org(org.clone());
    if !principal.can_manage(&owner) {
        return Err(forbidden_owner(&owner));
    }
    Ok(org)
}

/// An org's resolution policy.
#[utoipa::path(get, path = "/v1/orgs/{org}/policy", tag = "resolve", security(("bearer" = [])),
    params(("org" = String, Path, description = "bare org id")), responses((status = 200, body = OrgPolicy),
        (status = 403, description = "the token may not manage this org (`forbidden`)", body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, description = "not a valid org id (`invalid_field`)", body = crate::Problem, content_type = "application/problem+json")))]
pub async fn get_org_policy(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(org): Path<String>,
) -> Result<Json<OrgPolicy>, ApiError> {
    let org = org_for(&principal, &org)?;
    Ok(Json(OrgPolicy {
        allow_platform_fallback: state.store.org_allows_platform(&org).await?,
        short_lived_only: state.store.org_short_lived_only(&org).await?,
    }))
}

/// Sets an org's resolution policy.
#[utoipa::path(put, path = "/v1/orgs/{org}/policy", tag = "resolve", security(("bearer" = [])),
    params(("org" = String, Path, description = "bare org id")), request_body = OrgPolicy,
    responses((status = 200, body = OrgPolicy), (status = 403, description = "the token may not manage this org (`forbidden`)", body = crate::Problem, content_type = "application/problem+json")))]
pub async fn put_org_policy(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<OrgPolicy>,
) -> Result<Json<OrgPolicy>, ApiError> {
    let org = org_for(&principal, &org)?;
    let mut event = audit::event(&principal, &info, AuditAction::PolicyUpdate, "ok");
    event.owner = Some(Owner::Org(org.clone()).to_string());
    event.detail = Some(format!(
        "allow_platform_fallback = {}, short_lived_only = {}",
        body.allow_platform_fallback, body.short_lived_only
    ));
    let (allow_platform, short_lived_only) = (body.allow_platform_fallback, body.short_lived_only);
    let change = Change::SetOrgPolicy { org: org.clone(), allow_platform, short_lived_only, now: state.clock.now() };
    state.audit.commit(change, vec![event]).await?;
    tracing::info!(org = %org, allow_platform_fallback = allow_platform, short_lived_only, "org policy set");
    Ok(Json(body))
}
