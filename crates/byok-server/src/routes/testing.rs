//! Connection tests: `POST /v1/credentials/{id}/test` proves a stored credential works
//! with a real call; `POST /v1/providers/{id}/test` does the same for submitted fields
//! and stores nothing.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use byok_core::{AuditAction, AuditEvent, Principal, SecretValue, Status};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, RequestInfo, credential_event};
use crate::auth::Auth;
use crate::extract::ApiJson;
use crate::probing::{probe_fields, status_after, test_stored};
use crate::routes::credentials::{load_visible, owner_for_write};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestFields {
    /// Whose allowance of tests this one counts against: `user:<id>`, `org:<id>` or
    /// `platform`; a user token may omit it (its own user).
    #[schema(example = "user:alice")]
    pub owner: Option<String>,
    /// The provider's credential fields by name, as for a new credential.
    #[schema(example = json!({"api_key": "sk-proj-…"}))]
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// `connected`, `restricted`, `invalid` or `unavailable`.
    pub outcome: &'static str,
    /// The credential's status after the test (`unavailable` leaves it as it was).
    pub status: String,
    /// The provider's reason, in a sentence.
    pub message: String,
    pub latency_ms: u64,
}

/// Probes the provider with the stored credential and records the outcome.
#[utoipa::path(post, path = "/v1/credentials/{id}/test", tag = "credentials", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = TestResult),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many tests for this owner (`rate_limited`)", body = crate::Problem, content_type = "application/problem+json"),
    ))]
pub async fn test_credential(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    Path(id): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    run_test(&state, &principal, &info, &id).await.map(Json)
}

/// Tests a credential `principal` may manage (the API's and the settings page's one path).
pub(crate) async fn run_test(
    state: &AppState,
    principal: &Principal,
    info: &RequestInfo,
    id: &str,
) -> Result<TestResult, ApiError> {
    let credential = load_visible(state, principal, id).await?;
    state.probe_limiter.check(&credential.owner)?;
    let outcome = test_stored(state, &credential).await?;
    let event = credential_event(principal, info, AuditAction::CredentialTest, outcome.kind.as_str(), &credential);
    state.audit.record(event).await?;
    let status = crate::probing::status_after(outcome.kind).unwrap_or(credential.status);
    let status = if credential.enabled { status } else { byok_core::Status::Disabled };
    Ok(TestResult {
        outcome: outcome.kind.as_str(),
        status: status.to_string(),
        message: outcome.message,
        latency_ms: outcome.latency_ms,
    })
}

/// Probes the provider with submitted fields, as a credential test would, and stores
/// nothing; rate-limited per owner and audited (the outcome, never a value).
#[utoipa::path(post, path = "/v1/providers/{id}/test", tag = "catalog", security(("bearer" = [])),
    params(("id" = String, Path, description = "a provider id from `GET /v1/providers`")), request_body = TestFields,
    responses(
        (status = 200, description = "`status` is what a credential with these fields would be given", body = TestResult),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, description = "unknown provider, missing or malformed fields", body = crate::Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many tests for this owner (`rate_limited`)", body = crate::Problem, content_type = "application/problem+json"),
    ))]
pub async fn test_fields(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    Path(provider): Path<String>,
    ApiJson(body): ApiJson<TestFields>,
) -> Result<Json<TestResult>, ApiError> {
    let owner = owner_for_write(&principal, body.owner.as_deref())?;
    let spec = state.catalog.get(&provider)?;
    let fields = body.fields.into_iter().map(|(k, v)| (k, SecretValue::new(v))).collect();
    let split = state.catalog.split_fields(spec.id.as_str(), fields)?;
    state.probe_limiter.check(&owner)?;
    let outcome = probe_fields(&state, spec, &split.config, &split.secrets).await;
    let event = AuditEvent {
        owner: Some(owner.to_string()),
        provider: Some(spec.id.to_string()),
        detail: Some("submitted fields, nothing stored".into()),
        ..audit::event(&principal, &info, AuditAction::CredentialTest, outcome.kind.as_str())
    };
    state.audit.record(event).await?;
    Ok(Json(TestResult {
        outcome: outcome.kind.as_str(),
        status: status_after(outcome.kind).unwrap_or(Status::Unverified).to_string(),
        message: outcome.message,
        latency_ms: outcome.latency_ms,
    }))
}
