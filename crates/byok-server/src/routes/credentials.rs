use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use byok_core::{
    AuditAction, AuditEvent, Credential, CredentialId, Label, Owner, Principal, Role, SecretValue, Status,
};
use byok_providers::{ProbeOutcome, ProbeOutcomeKind};
use byok_store::{Change, CredentialFilter};
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};

use crate::audit::{self, RequestInfo, credential_event};
use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery};
use crate::probing::{mark_for_background_test, probe_fields, status_after, test_in_background};
use crate::sealing::{NewCredential, binding, current_period, hints, new_credential, seal_into};
use crate::token_counts::token_counts;
use crate::views::{CredentialView, Page};
use crate::webhooks::credential_change;
use crate::{ApiError, AppState};

const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = -1000..=1000;
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    /// `user:<id>`, `org:<id>` or `platform`; a user token may omit it (its own user).
    #[schema(example = "user:alice")]
    pub owner: Option<String>,
    #[schema(example = "openai")]
    pub provider: String,
    pub label: Option<String>,
    /// The provider's credential fields by name; secret ones are sealed.
    #[schema(example = json!({"api_key": "sk-proj-…", "organization": "org-123"}))]
    pub fields: BTreeMap<String, String>,
    pub monthly_limit: Option<i64>,
    /// Tokens the providers report for its proxied requests, allowed per usage period.
    /// The request that crosses it finishes (tokens are known only after the answer);
    /// the next is refused.
    pub monthly_token_limit: Option<i64>,
    /// Requests (resolves and proxied uses) allowed per calendar minute, on all
    /// instances together; at the limit the owner's next usable credential is used, or
    /// the request is refused (429 `rate_limited`, with `retry-after`).
    pub rate_limit_per_minute: Option<i64>,
    pub priority: Option<i64>,
    /// Test the submitted values with the provider first and refuse a definitely
    /// invalid credential (422 `validation_failed`). Default: the deployment's
    /// `BYOK_VALIDATE_ON_CREATE` (false unless set). Without validation the new
    /// credential is tested in the background after it is stored.
    pub validate: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCredential {
    pub label: Option<String>,
    /// Fields to set; `null` removes an optional field. A changed secret makes a new version.
    pub fields: Option<BTreeMap<String, Option<String>>>,
    pub enabled: Option<bool>,
    pub priority: Option<i64>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub monthly_limit: Option<Option<i64>>,
    /// `null` removes the token budget.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub monthly_token_limit: Option<Option<i64>>,
    /// `null` removes the per-minute limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub rate_limit_per_minute: Option<Option<i64>>,
    /// With changed fields: test the new values first, as on create. Default: the
    /// deployment's `BYOK_VALIDATE_ON_CREATE`.
    pub validate: Option<bool>,
}

/// Distinguishes an absent key (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this owner's credentials.
    pub owner: Option<String>,
    pub provider: Option<String>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<u32>,
    /// The `next` value of the previous page.
    pub cursor: Option<String>,
}

/// Stores a credential: checks its fields against the provider, seals the secret ones.
#[utoipa::path(post, path = "/v1/credentials", tag = "credentials", security(("bearer" = [])), request_body = CreateCredential,
    responses(
        (status = 201, body = CredentialView),
        (status = 409, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_credential(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    ApiJson(body): ApiJson<CreateCredential>,
) -> Result<Response, ApiError> {
    let credential = create(&state, &principal, &info, body).await?;
    let location = format!("/v1/credentials/{}", credential.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(CredentialView::new(&credential, current_period(&state))),
    )
        .into_response())
}

/// Creates a credential for `principal` (the API's and the settings page's one path).
pub(crate) async fn create(
    state: &AppState,
    principal: &Principal,
    info: &RequestInfo,
    body: CreateCredential,
) -> Result<Credential, ApiError> {
    let owner = owner_for_write(principal, body.owner.as_deref())?;
    let provider = state.catalog.get(&body.provider)?.id.clone();
    let label = body.label.as_deref().map(Label::parse).transpose()?.unwrap_or_default();
    let fields = body.fields.into_iter().map(|(k, v)| (k, SecretValue::new(v))).collect();
    let split = state.catalog.split_fields(provider.as_str(), fields)?;
    let monthly_limit = body.monthly_limit.map(|l| check_limit("monthly_limit", l)).transpose()?;
    let monthly_token_limit = body.monthly_token_limit.map(|l| check_limit("monthly_token_limit", l)).transpose()?;
    let rate_limit_per_minute = body.rate_limit_per_minute.map(check_rate_limit).transpose()?;
    let priority = check_priority(body.priority.unwrap_or(0))?;
    let verdict = if body.validate.unwrap_or(state.settings.validate_on_create) {
        let refused = AuditEvent {
            owner: Some(owner.to_string()),
            provider: Some(provider.to_string()),
            ..audit::event(principal, info, AuditAction::CredentialTest, "invalid")
        };
        Some(validate_submitted(state, &owner, &provider, &split, refused).await?)
    } else {
        None
    };
    let mut credential =
        new_credential(state, NewCredential { owner, provider, label, split, monthly_limit, priority });
    credential.monthly_token_limit = monthly_token_limit;
    credential.rate_limit_per_minute = rate_limit_per_minute;
    if let Some(outcome) = &verdict {
        apply_verdict(state, &mut credential, outcome);
    }
    let test_after = mark_for_background_test(state, &mut credential, verdict.is_some());
    let mut event = credential_event(principal, info, AuditAction::CredentialCreate, "ok", &credential);
    event.detail = verdict.is_some().then(|| format!("validated: {}", credential.status));
    let announced = credential_change(None, Some(&credential), credential.created_at);
    state.audit.commit_announced(Change::InsertCredential(credential.clone()), vec![event], announced).await?;
    tracing::info!(credential_id = %credential.id, owner = %credential.owner, provider = %credential.provider, "credential created");
    if test_after {
        let audit = credential_event(principal, info, AuditAction::CredentialTest, "", &credential);
        test_in_background(state, credential.clone(), audit);
    }
    Ok(credential)
}

/// Lists credentials the caller may see, oldest first.
#[utoipa::path(get, path = "/v1/credentials", tag = "credentials", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<CredentialView>)))]
pub async fn list_credentials(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<CredentialView>>, ApiError> {
    let filter = listing_filter(
        &state,
        &principal,
        query.owner.as_deref(),
        query.provider.as_deref(),
        query.limit,
        query.cursor.as_deref(),
    )?;
    let limit = filter.limit;
    let items = state.store.list_credentials(&filter).await?;
    let next = next_cursor(&items, limit);
    let period = current_period(&state);
    let tokens = token_counts(&state, &items).await?;
    let items = items.iter().map(|c| CredentialView::new(c, period).with_tokens(tokens.get(&c.id))).collect();
    Ok(Json(Page { items, next }))
}

/// One credential.
#[utoipa::path(get, path = "/v1/credentials/{id}", tag = "credentials", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = CredentialView), (status = 404, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn get_credential(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<CredentialView>, ApiError> {
    let credential = load_visible(&state, &principal, &id).await?;
    let tokens = token_counts(&state, std::slice::from_ref(&credential)).await?;
    Ok(Json(CredentialView::new(&credential, current_period(&state)).with_tokens(tokens.get(&credential.id))))
}

/// Changes a credential's label, fields, enabled flag, priority or limit.
#[utoipa::path(patch, path = "/v1/credentials/{id}", tag = "credentials", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = PatchCredential,
    responses((status = 200, body = CredentialView), (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn patch_credential(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchCredential>,
) -> Result<Json<CredentialView>, ApiError> {
    let c = update(&state, &principal, &info, &id, body).await?;
    let tokens = token_counts(&state, std::slice::from_ref(&c)).await?;
    Ok(Json(CredentialView::new(&c, current_period(&state)).with_tokens(tokens.get(&c.id))))
}

/// Applies a change to a credential `principal` may manage (the API's and the
/// settings page's one path). A connection test finishing between reading and
/// writing the row moves its revision too: the change is applied afresh to the new
/// row a few times before the caller is told of a conflict.
pub(crate) async fn update(
    state: &AppState,
    principal: &Principal,
    info: &RequestInfo,
    id: &str,
    body: PatchCredential,
) -> Result<Credential, ApiError> {
    for _ in 0..2 {
        match try_update(state, principal, info, id, body.clone()).await {
            Err(ApiError::Conflict(_)) => continue,
            done => return done,
        }
    }
    try_update(state, principal, info, id, body).await
}

async fn try_update(
    state: &AppState,
    principal: &Principal,
    info: &RequestInfo,
    id: &str,
    body: PatchCredential,
) -> Result<Credential, ApiError> {
    let mut c = load_visible(state, principal, id).await?;
    let before = c.clone();
    let (was_enabled, old_version) = (c.enabled, c.version);
    if let Some(label) = body.label.as_deref() {
        c.label = Label::parse(label)?;
    }
    if let Some(priority) = body.priority {
        c.priority = check_priority(priority)?;
    }
    if let Some(limit) = body.monthly_limit {
        c.monthly_limit = limit.map(|l| check_limit("monthly_limit", l)).transpose()?;
    }
    if let Some(budget) = body.monthly_token_limit {
        c.monthly_token_limit = budget.map(|b| check_limit("monthly_token_limit", b)).transpose()?;
    }
    if let Some(limit) = body.rate_limit_per_minute {
        c.rate_limit_per_minute = limit.map(check_rate_limit).transpose()?;
    }
    if let Some(enabled) = body.enabled {
        c.enabled = enabled;
    }
    let mut validated = false;
    if let Some(changes) = body.fields {
        let validate = body.validate.unwrap_or(state.settings.validate_on_create);
        let refused = validate.then(|| credential_event(principal, info, AuditAction::CredentialTest, "invalid", &c));
        validated = apply_field_changes(state, &mut c, changes, refused).await?;
    }
    c.updated_at = state.clock.now();
    let new_version = c.version != old_version;
    let test_after = new_version && mark_for_background_test(state, &mut c, validated);
    let mut event = credential_event(principal, info, AuditAction::CredentialUpdate, "ok", &c);
    event.detail = Some(if new_version { format!("new secret version {}", c.version) } else { "settings".to_owned() });
    let mut events = vec![event];
    if c.enabled != was_enabled {
        let action = if c.enabled { AuditAction::CredentialEnable } else { AuditAction::CredentialDisable };
        events.push(credential_event(principal, info, action, "ok", &c));
    }
    let change = Change::UpdateCredential { credential: c.clone(), new_version, keep: state.settings.keep_versions };
    let announced = credential_change(Some(&before), Some(&c), c.updated_at);
    if !state.audit.commit_announced(change, events, announced).await? {
        return Err(ApiError::Conflict("the credential was changed by another request; fetch it and retry".into()));
    }
    c.revision += 1;
    tracing::info!(credential_id = %c.id, version = c.version, "credential updated");
    if test_after {
        let audit = credential_event(principal, info, AuditAction::CredentialTest, "", &c);
        test_in_background(state, c.clone(), audit);
    }
    Ok(c)
}

/// Deletes a credential and its sealed secret.
#[utoipa::path(delete, path = "/v1/credentials/{id}", tag = "credentials", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn delete_credential(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete(&state, &principal, &info, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a credential `principal` may manage (the API's and the settings page's one path).
pub(crate) async fn delete(
    state: &AppState,
    principal: &Principal,
    info: &RequestInfo,
    id: &str,
) -> Result<(), ApiError> {
    let credential = load_visible(state, principal, id).await?;
    let event = credential_event(principal, info, AuditAction::CredentialDelete, "ok", &credential);
    let announced = credential_change(Some(&credential), None, state.clock.now());
    if !state.audit.commit_announced(Change::DeleteCredential(credential.id), vec![event], announced).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(credential_id = %credential.id, "credential deleted");
    Ok(())
}

/// The filter of a listing's query: one owner if asked for (and the caller may see
/// it), else every owner the caller may see; a known provider; a checked page.
pub(crate) fn listing_filter(
    state: &AppState,
    principal: &Principal,
    owner: Option<&str>,
    provider: Option<&str>,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<CredentialFilter, ApiError> {
    let owners = match owner {
        Some(owner) => {
            let owner: Owner = owner.parse()?;
            if !principal.can_manage(&owner) {
                return Err(forbidden_owner(&owner));
            }
            Some(vec![owner])
        }
        None => visible_owners(principal),
    };
    let provider = provider.map(|p| state.catalog.get(p).map(|s| s.id.clone())).transpose()?;
    let (limit, after) = page_params(limit, cursor)?;
    Ok(CredentialFilter { owners, provider, exclude_platform: principal.role == Role::Service, after, limit })
}

/// Checks a listing's `limit` and `cursor` parameters.
fn page_params(limit: Option<u32>, cursor: Option<&str>) -> Result<(u32, Option<CredentialId>), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!("invalid query string: limit must be 1 to {MAX_PAGE}")));
    }
    let after = cursor
        .map(str::parse::<CredentialId>)
        .transpose()
        .map_err(|_| ApiError::InvalidQuery("invalid query string: cursor is not a value from `next`".into()))?;
    Ok((limit, after))
}

/// The cursor of the page after `items`, or none when this page was the last.
pub(crate) fn next_cursor(items: &[Credential], limit: u32) -> Option<String> {
    (items.len() == limit as usize).then(|| items.last().map(|c| c.id.to_string())).flatten()
}

/// Probes submitted values (`validate: true`): a definitely invalid credential is
/// refused with the provider's reason, and the refusal audited as `refused` (nothing
/// else records that probe); any other outcome is returned to be recorded.
async fn validate_submitted(
    state: &AppState,
    owner: &Owner,
    provider: &byok_core::ProviderId,
    split: &byok_core::SplitFields,
    refused: AuditEvent,
) -> Result<ProbeOutcome, ApiError> {
    state.probe_limiter.check(owner)?;
    let spec = state.catalog.get(provider.as_str())?;
    let outcome = probe_fields(state, spec, &split.config, &split.secrets).await;
    if outcome.kind == ProbeOutcomeKind::Invalid {
        state
            .audit
            .record(AuditEvent { detail: Some("validation of submitted fields refused".into()), ..refused })
            .await?;
        return Err(ApiError::ValidationFailed(format!("{} refused the credential: {}", spec.name, outcome.message)));
    }
    Ok(outcome)
}

/// Records a validation's outcome on a credential about to be saved.
fn apply_verdict(state: &AppState, c: &mut Credential, outcome: &ProbeOutcome) {
    c.status = status_after(outcome.kind).unwrap_or(Status::Unverified);
    c.status_message = Some(outcome.message.clone());
    c.last_tested_at = (outcome.kind != ProbeOutcomeKind::Unavailable).then(|| state.clock.now());
}

/// Merges field changes into the credential's current fields and re-checks the whole
/// set; a changed secret is sealed as a new version. With `validate`, changed values
/// are probed first (`validation` is the audit entry should the provider refuse them).
/// True when they were probed.
async fn apply_field_changes(
    state: &AppState,
    c: &mut Credential,
    changes: BTreeMap<String, Option<String>>,
    validation: Option<AuditEvent>,
) -> Result<bool, ApiError> {
    let old_secrets = state.keyring.open(&binding(c), &c.sealed)?;
    let mut fields: BTreeMap<String, SecretValue> = old_secrets.clone();
    fields.extend(c.config.iter().map(|(k, v)| (k.clone(), SecretValue::new(v.clone()))));
    for (name, value) in changes {
        match value {
            Some(v) => fields.insert(name, SecretValue::new(v)),
            None => fields.remove(&name),
        };
    }
    let split = state.catalog.split_fields(c.provider.as_str(), fields)?;
    let secrets_changed = split.secrets != old_secrets;
    let verdict = match validation {
        Some(refused) if secrets_changed || split.config != c.config => {
            Some(validate_submitted(state, &c.owner, &c.provider, &split, refused).await?)
        }
        _ => None,
    };
    c.config = split.config;
    if secrets_changed {
        c.version += 1;
        c.status = Status::Unverified;
        c.status_message = None;
        c.last_tested_at = None;
        c.secret_hints = hints(&split.secrets);
        seal_into(state, c, &split.secrets);
    }
    let validated = verdict.is_some();
    if let Some(outcome) = verdict {
        apply_verdict(state, c, &outcome);
    }
    Ok(validated)
}

fn check_priority(p: i64) -> Result<i64, ApiError> {
    if PRIORITY_RANGE.contains(&p) {
        Ok(p)
    } else {
        Err(ApiError::InvalidField(format!(
            "invalid priority: must be {} to {}",
            PRIORITY_RANGE.start(),
            PRIORITY_RANGE.end()
        )))
    }
}

/// A monthly limit or budget (`field` names it in the error): 0 or more.
fn check_limit(field: &str, limit: i64) -> Result<i64, ApiError> {
    if limit >= 0 { Ok(limit) } else { Err(ApiError::InvalidField(format!("invalid {field}: must not be negative"))) }
}

/// The largest `rate_limit_per_minute` taken.
const MAX_RATE_LIMIT: i64 = 1_000_000_000;

/// A per-minute limit: at least one request (a key that may make none is disabled).
pub(crate) fn check_rate_limit(limit: i64) -> Result<i64, ApiError> {
    if (1..=MAX_RATE_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::InvalidField(format!("invalid rate_limit_per_minute: must be 1 to {MAX_RATE_LIMIT}")))
    }
}

pub(crate) fn forbidden_owner(owner: &Owner) -> ApiError {
    ApiError::Forbidden(format!("this token may not manage credentials of `{owner}`"))
}

/// The owner a write acts for: the given one if the caller may manage it, or the
/// caller's own user when a user token gives none.
pub(crate) fn owner_for_write(principal: &Principal, given: Option<&str>) -> Result<Owner, ApiError> {
    let owner = match (given, &principal.owner) {
        (Some(owner), _) => owner.parse()?,
        (None, Some(own)) if principal.role == Role::User => own.clone(),
        _ => {
            return Err(ApiError::InvalidField("invalid owner: service and admin tokens must give `owner`".into()));
        }
    };
    if !principal.can_manage(&owner) {
        return Err(forbidden_owner(&owner));
    }
    Ok(owner)
}

/// Owners a listing without `?owner=` covers: all for admins and services (which
/// never see platform credentials), the user and its managed orgs for a user.
pub(crate) fn visible_owners(principal: &Principal) -> Option<Vec<Owner>> {
    match principal.role {
        Role::Admin | Role::Service => None,
        Role::User => {
            let mut owners: Vec<Owner> = principal.owner.iter().cloned().collect();
            owners.extend(principal.manage_orgs.iter().cloned().map(Owner::Org));
            Some(owners)
        }
        // Never reached (the proxy alone accepts virtual keys): nothing is visible.
        Role::Virtual => Some(Vec::new()),
    }
}

/// Loads a credential the caller may see. A foreign id answers exactly like a
/// missing one, so ids cannot be probed.
pub(crate) async fn load_visible(state: &AppState, principal: &Principal, id: &str) -> Result<Credential, ApiError> {
    let id: CredentialId = id.parse().map_err(|_| ApiError::NotFound)?;
    match state.store.get_credential(&id).await? {
        Some(c) if principal.can_manage(&c.owner) => Ok(c),
        _ => Err(ApiError::NotFound),
    }
}
