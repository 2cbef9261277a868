//! `POST /v1/credentials/{id}/report`: a product that used a resolved key tells byok
//! how the provider answered. `invalid` (the provider refused the key: 401/403) marks
//! the credential `error` with the message, so resolves move on to the owner's next key
//! and a `credential.status_changed` event goes out; `rate_limited` and `error` are
//! recorded in the audit log only, as the proxy treats a provider's 429 and 5xx.

use axum::Json;
use axum::extract::{Path, State};
use byok_core::AuditAction;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::audit::{RequestInfo, credential_event};
use crate::auth::Auth;
use crate::extract::ApiJson;
use crate::routes::credentials::load_visible;
use crate::sealing::current_period;
use crate::views::CredentialView;
use crate::{ApiError, AppState};

/// The longest message kept.
const MAX_MESSAGE: usize = 500;

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The provider refused the key (401/403).
    Invalid,
    /// The provider rate-limited the key (429).
    RateLimited,
    /// The provider failed (5xx, timeout).
    Error,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub outcome: Outcome,
    /// What the provider said (never the key itself); at most 500 characters.
    #[schema(example = "Incorrect API key provided")]
    pub message: Option<String>,
}

/// Reports how a resolved key fared at its provider.
#[utoipa::path(post, path = "/v1/credentials/{id}/report", tag = "resolve", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Report,
    responses((status = 200, body = CredentialView),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn report_credential(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Report>,
) -> Result<Json<CredentialView>, ApiError> {
    let credential = load_visible(&state, &principal, &id).await?;
    let message = body.message.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty());
    if message.as_ref().is_some_and(|m| m.chars().count() > MAX_MESSAGE || m.chars().any(char::is_control)) {
        return Err(ApiError::InvalidField(format!("invalid message: at most {MAX_MESSAGE} printable characters")));
    }
    let (outcome, default) = match body.outcome {
        Outcome::Invalid => ("invalid", "the product reported that the provider refused the key"),
        Outcome::RateLimited => ("rate_limited", "the product reported that the provider rate-limited the key"),
        Outcome::Error => ("error", "the product reported that the provider failed"),
    };
    let message = message.unwrap_or_else(|| default.to_owned());
    let mut event = credential_event(&principal, &info, AuditAction::CredentialReport, outcome, &credential);
    event.detail = Some(message.clone());
    state.audit.record(event).await?;
    if body.outcome == Outcome::Invalid {
        state.store.mark_failing(&credential.id, &message, state.clock.now()).await?;
        state.audit.announced.notify_one();
        tracing::warn!(credential_id = %credential.id, "credential reported invalid by the product");
    }
    let current = state.store.get_credential(&credential.id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(CredentialView::new(&current, current_period(&state))))
}
