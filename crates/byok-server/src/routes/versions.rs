//! Secret versions of a credential and rollback to one of them.

use axum::Json;
use axum::extract::{Path, State};
use byok_core::{AuditAction, Status};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use byok_store::Change;

use crate::audit::{RequestInfo, credential_event};
use crate::auth::Auth;
use crate::extract::ApiJson;
use crate::routes::credentials::load_visible;
use crate::sealing::{binding, current_period, seal_into};
use crate::views::CredentialView;
use crate::{ApiError, AppState};

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub secret_hints: std::collections::BTreeMap<String, String>,
    pub created_at: String,
    pub current: bool,
}

/// A credential's secret versions, newest first: metadata and hints only.
#[utoipa::path(get, path = "/v1/credentials/{id}/versions", tag = "credentials", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = [VersionView])))]
pub async fn list_versions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<VersionView>>, ApiError> {
    let c = load_visible(&state, &principal, &id).await?;
    let versions = state.store.credential_versions(&c.id).await?;
    Ok(Json(
        versions
            .into_iter()
            .map(|v| VersionView {
                current: v.version == c.version,
                version: v.version,
                secret_hints: v.secret_hints,
                created_at: v.created_at.to_rfc3339(),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub version: i64,
}

/// Makes an earlier secret current again, as a new version (history is never
/// rewritten).
#[utoipa::path(post, path = "/v1/credentials/{id}/rollback", tag = "credentials", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RollbackRequest,
    responses((status = 200, body = CredentialView), (status = 404, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn rollback(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RollbackRequest>,
) -> Result<Json<CredentialView>, ApiError> {
    let mut c = load_visible(&state, &principal, &id).await?;
    let before = c.clone();
    if body.version == c.version {
        return Err(ApiError::InvalidField(format!(
            "invalid version: {} is already the current version",
            body.version
        )));
    }
    let versions = state.store.credential_versions(&c.id).await?;
    let target = versions
        .into_iter()
        .find(|v| v.version == body.version)
        .ok_or_else(|| ApiError::InvalidField(format!("invalid version: version {} is not kept", body.version)))?;
    let old = byok_core::Credential { version: target.version, ..c.clone() };
    let secrets = state.keyring.open(&binding(&old), &target.sealed)?;
    c.version += 1;
    c.secret_hints = target.secret_hints;
    c.status = Status::Unverified;
    c.status_message = None;
    c.last_tested_at = None;
    c.updated_at = state.clock.now();
    seal_into(&state, &mut c, &secrets);
    let test_after = crate::probing::mark_for_background_test(&state, &mut c, false);
    let mut event = credential_event(&principal, &info, AuditAction::CredentialRollback, "ok", &c);
    event.detail = Some(format!("version {} restored as version {}", body.version, c.version));
    let change =
        Change::UpdateCredential { credential: c.clone(), new_version: true, keep: state.settings.keep_versions };
    let announced = crate::webhooks::credential_change(Some(&before), Some(&c), c.updated_at);
    if !state.audit.commit_announced(change, vec![event], announced).await? {
        return Err(ApiError::Conflict("the credential was changed by another request; fetch it and retry".into()));
    }
    c.revision += 1;
    if test_after {
        let audit = credential_event(&principal, &info, AuditAction::CredentialTest, "", &c);
        crate::probing::test_in_background(&state, c.clone(), audit);
    }
    Ok(Json(CredentialView::new(&c, current_period(&state))))
}
