//! Webhook rows as both engines return them, and their conversion to domain values.

use std::collections::HashMap;

use byok_core::{EventType, Timestamp};

use crate::{Delivery, DeliveryState, StoreError, Webhook};

/// The columns of [`WebhookRow`], in its order.
pub(crate) const WEBHOOK_COLUMNS: &str =
    "id, url, description, key_id, sealed, enabled, failing_since, disabled_at, created_at";

/// The columns of [`DeliveryRow`], in its order.
pub(crate) const DELIVERY_COLUMNS: &str = "seq, webhook_id, event_id, event_type, state, attempts, next_attempt_at, \
     last_status, last_error, created_at, finished_at, body";

pub(crate) struct WebhookRow {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub key_id: String,
    pub sealed: Vec<u8>,
    pub enabled: bool,
    pub failing_since: Option<i64>,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
}

/// Endpoints with their subscriptions (`(webhook_id, event)` pairs), in `rows` order.
pub(crate) fn webhooks(
    rows: Vec<WebhookRow>,
    subscriptions: Vec<(String, String)>,
) -> Result<Vec<Webhook>, StoreError> {
    let mut events: HashMap<String, Vec<EventType>> = HashMap::new();
    for (webhook_id, event) in subscriptions {
        let kind = EventType::parse(&event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        events.entry(webhook_id).or_default().push(kind);
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut subscribed = events.remove(&r.id).unwrap_or_default();
            subscribed.sort_by_key(|t| EventType::ALL.iter().position(|a| a == t));
            Webhook {
                events: subscribed,
                id: r.id,
                url: r.url,
                description: r.description,
                key_id: r.key_id,
                sealed: r.sealed,
                enabled: r.enabled,
                failing_since: r.failing_since.map(Timestamp::from_millis),
                disabled_at: r.disabled_at.map(Timestamp::from_millis),
                created_at: Timestamp::from_millis(r.created_at),
            }
        })
        .collect())
}

pub(crate) struct DeliveryRow {
    pub seq: i64,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub body: String,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;

    fn try_from(r: DeliveryRow) -> Result<Self, StoreError> {
        Ok(Delivery {
            seq: r.seq,
            webhook_id: r.webhook_id,
            event_id: r.event_id,
            event_type: r.event_type,
            state: DeliveryState::parse(&r.state)?,
            attempts: r.attempts,
            next_attempt_at: Timestamp::from_millis(r.next_attempt_at),
            last_status: r.last_status,
            last_error: r.last_error,
            created_at: Timestamp::from_millis(r.created_at),
            finished_at: r.finished_at.map(Timestamp::from_millis),
            body: r.body,
        })
    }
}
