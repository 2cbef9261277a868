//! `/v1/webhooks` (admin only): endpoints that hear about credential events and usage
//! alerts, their deliveries, and a manual retry.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use byok_core::{AuditAction, EventType, Principal, Role, Timestamp};
use byok_store::{Change, Delivery, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::{self, RequestInfo};
use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery};
use crate::views::Page;
use crate::{ApiError, AppState};

/// The longest URL and description taken.
const MAX_URL_LEN: usize = 2048;
const MAX_DESCRIPTION_LEN: usize = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries are POSTed (http or https).
    #[schema(example = "https://example.com/byok/webhooks")]
    pub url: String,
    /// Event types: `credential.created`, `credential.updated`, `credential.deleted`,
    /// `credential.status_changed`, `credential.usage_threshold`,
    /// `virtual_key.usage_threshold`.
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// An endpoint as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<&'static str>,
    pub description: Option<String>,
    /// False once byok disabled it (every attempt failed for days); a manual retry of a
    /// delivery enables it again.
    pub enabled: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub disabled_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// A new endpoint, with its signing secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_` and the base64 key: verify each delivery's `webhook-signature` with it
    /// (any Standard Webhooks library).
    pub secret: String,
}

/// One event's delivery to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The event id: the `webhook-id` header of every attempt.
    pub id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub state: &'static str,
    pub attempts: i32,
    /// When a pending delivery is next sent.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
    /// The status of the last answer, if there was one.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// 1 to 1000 (default 100).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn admin_only(principal: &Principal) -> Result<(), ApiError> {
    if principal.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only admin tokens manage webhooks".into()))
    }
}

fn view(w: &Webhook) -> WebhookView {
    WebhookView {
        id: w.id.clone(),
        url: w.url.clone(),
        events: w.events.iter().map(|e| e.as_str()).collect(),
        description: w.description.clone(),
        enabled: w.enabled,
        failing_since: w.failing_since,
        disabled_at: w.disabled_at,
        created_at: w.created_at,
    }
}

fn delivery_view(d: Delivery) -> DeliveryView {
    let pending = d.state == byok_store::DeliveryState::Pending;
    DeliveryView {
        id: d.event_id,
        event_type: d.event_type,
        state: d.state.as_str(),
        attempts: d.attempts,
        next_attempt_at: pending.then_some(d.next_attempt_at),
        last_status: d.last_status,
        last_error: d.last_error,
        created_at: d.created_at,
        finished_at: d.finished_at,
    }
}

fn refused(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::WebhookRefused { code, detail: detail.into() }
}

/// The URL, checked: absolute http(s), no credentials in it, no private address
/// (unless private networks are allowed).
fn checked_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    if url.len() > MAX_URL_LEN {
        return Err(refused("invalid_url", format!("`url` is longer than {MAX_URL_LEN} characters")));
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| refused("invalid_url", "`url` is not an absolute URL"))?;
    state.prober.webhook_url_permitted(&parsed).map_err(|why| {
        let code = if why.contains("private") { "private_address" } else { "invalid_url" };
        refused(code, format!("`url` {why}"))
    })?;
    Ok(parsed.to_string())
}

fn checked_events(events: &[String]) -> Result<Vec<EventType>, ApiError> {
    if events.is_empty() {
        return Err(refused("unknown_event", "`events` must name at least one event type"));
    }
    let mut parsed = Vec::new();
    for name in events {
        let kind = EventType::parse(name).map_err(|e| refused("unknown_event", e.to_string()))?;
        if !parsed.contains(&kind) {
            parsed.push(kind);
        }
    }
    Ok(parsed)
}

/// Creates an endpoint; its signing secret is in this answer only.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])), request_body = NewWebhook,
    responses((status = 201, body = CreatedWebhook),
        (status = 403, description = "not an admin token (`forbidden`)", body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_url`, `private_address` or `unknown_event`", body = crate::Problem, content_type = "application/problem+json")))]
pub async fn create_webhook(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    ApiJson(body): ApiJson<NewWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    admin_only(&principal)?;
    let url = checked_url(&state, body.url.trim())?;
    let events = checked_events(&body.events)?;
    let description = body.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    if description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN) {
        return Err(ApiError::InvalidField(format!("`description` is longer than {MAX_DESCRIPTION_LEN} characters")));
    }
    let id = format!("wh_{}", uuid::Uuid::now_v7().simple());
    let secret = byok_crypto::generate_webhook_secret();
    let (key_id, sealed) = state.keyring.seal_blob(&byok_crypto::webhook_secret_purpose(&id), &secret);
    let webhook = Webhook {
        id: id.clone(),
        url,
        description,
        events,
        key_id,
        sealed,
        enabled: true,
        failing_since: None,
        disabled_at: None,
        created_at: state.clock.now(),
    };
    let mut event = audit::event(&principal, &info, AuditAction::WebhookCreate, "ok");
    event.detail = Some(format!("webhook {id}"));
    state.audit.commit(Change::InsertWebhook(webhook.clone()), vec![event]).await?;
    tracing::info!(webhook = %id, "webhook endpoint created");
    let secret = format!("whsec_{}", STANDARD.encode(&*secret));
    Ok((StatusCode::CREATED, Json(CreatedWebhook { webhook: view(&webhook), secret })))
}

/// Every endpoint, oldest first.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Page<WebhookView>), (status = 403, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Page<WebhookView>>, ApiError> {
    admin_only(&principal)?;
    let items = state.store.list_webhooks().await?.iter().map(view).collect();
    Ok(Json(Page { items, next: None }))
}

/// Deletes an endpoint with its pending deliveries.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin_only(&principal)?;
    let mut event = audit::event(&principal, &info, AuditAction::WebhookDelete, "ok");
    event.detail = Some(format!("webhook {id}"));
    if !state.audit.commit(Change::DeleteWebhook(id.clone()), vec![event]).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(webhook = %id, "webhook endpoint deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), DeliveriesQuery),
    responses((status = 200, body = Page<DeliveryView>), (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Page<DeliveryView>>, ApiError> {
    admin_only(&principal)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::InvalidQuery("`limit` must be between 1 and 1000".into()));
    }
    let before = q
        .cursor
        .as_deref()
        .map(|c| c.parse::<i64>().map_err(|_| ApiError::InvalidQuery("`cursor` is not one this API gave".into())))
        .transpose()?;
    if state.store.get_webhook(&id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let rows = state.store.webhook_deliveries(&id, before, limit).await?;
    let next = (rows.len() == limit as usize).then(|| rows.last().map(|d| d.seq.to_string())).flatten();
    Ok(Json(Page { items: rows.into_iter().map(delivery_view).collect(), next }))
}

/// Sends a delivery again, now, with the same `webhook-id` (and enables its endpoint
/// if byok had disabled it).
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 202, body = DeliveryView), (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn retry_delivery(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    admin_only(&principal)?;
    let delivery = state.store.retry_delivery(&id, &delivery_id, state.clock.now()).await?.ok_or(ApiError::NotFound)?;
    let mut event = audit::event(&principal, &info, AuditAction::WebhookRetry, "ok");
    event.detail = Some(format!("webhook {id}, delivery {delivery_id}"));
    state.audit.record(event).await?;
    state.audit.announced.notify_one();
    Ok((StatusCode::ACCEPTED, Json(delivery_view(delivery))))
}
