//! `POST /v1/credentials/{id}/test`: prove a stored credential works with a real call.

use axum::Json;
use axum::extract::{Path, State};
use byok_core::{AuditAction, Principal};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{RequestInfo, credential_event};
use crate::auth::Auth;
use crate::probing::test_stored;
use crate::routes::credentials::load_visible;
use crate::{ApiError, AppState};

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
