//! Each instance's delivery loop: turns usage alerts into events, leases due
//! deliveries (instances never lease the same one at once), sends them, records each
//! attempt, disables an endpoint that has failed for too long, and prunes old
//! deliveries. It runs beside the request paths and never in them: a slow receiver
//! holds only its own attempt, for at most the timeout.

use std::time::Duration;

use byok_core::{AuditAction, AuditEvent, Timestamp};
use byok_store::{Attempt, Change, Delivery};
use futures::future::join_all;

use super::attempt;
use crate::AppState;

/// Most deliveries leased, and sent concurrently, per round.
const BATCH: u32 = 32;
/// Most usage alerts turned into events per transaction.
const ALERTS: u32 = 256;
/// How often delivered and failed deliveries past their retention are removed (ms).
const PRUNE_EVERY: i64 = 3600 * 1000;

/// Starts the loop; it ends with the runtime.
pub(crate) fn start(state: AppState) {
    tokio::spawn(async move {
        let settings = &state.settings.webhooks;
        if let Err(e) = state.store.set_usage_thresholds(settings.usage_thresholds.permille()).await {
            tracing::error!(error = %e, "usage alert thresholds could not be stored; the stored ones apply");
        }
        let mut pruned_at: Option<Timestamp> = None;
        loop {
            let busy = match round(&state).await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook delivery round failed; trying again shortly");
                    false
                }
            };
            let now = state.clock.now();
            if pruned_at.is_none_or(|at| now.millis().saturating_sub(at.millis()) >= PRUNE_EVERY) {
                pruned_at = Some(now);
                prune(&state).await;
            }
            if !busy {
                tokio::select! {
                    _ = state.audit.announced.notified() => {}
                    _ = tokio::time::sleep(settings.poll_interval) => {}
                }
            }
        }
    });
}

/// One round; true when there may be more to do at once.
async fn round(state: &AppState) -> Result<bool, byok_store::StoreError> {
    let alerts = state.store.publish_usage_alerts(ALERTS).await?;
    let now = state.clock.now();
    let settings = &state.settings.webhooks;
    let lease = Duration::from_secs(5) + settings.timeout * 2;
    let lease_until = now.plus_millis(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
    let due = state.store.claim_deliveries(now, lease_until, BATCH).await?;
    let sent = due.len();
    join_all(due.into_iter().map(|d| deliver(state, d))).await;
    Ok(alerts == ALERTS as usize || sent == BATCH as usize)
}

async fn deliver(state: &AppState, delivery: Delivery) {
    let settings = &state.settings.webhooks;
    let endpoint = match state.store.get_webhook(&delivery.webhook_id).await {
        Ok(Some(endpoint)) => endpoint,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(webhook = %delivery.webhook_id, error = %e, "webhook endpoint could not be read");
            return;
        }
    };
    let purpose = byok_crypto::webhook_secret_purpose(&endpoint.id);
    let result = match state.keyring.open_blob(&purpose, &endpoint.sealed) {
        Ok(secret) => {
            let headers = attempt::headers(&secret, &delivery.event_id, state.clock.now(), &delivery.body);
            state.prober.post_webhook(&endpoint.url, &headers, delivery.body.clone(), settings.timeout).await
        }
        Err(e) => {
            tracing::error!(webhook = %endpoint.id, error = %e, "webhook secret does not open with the keyring");
            Err(byok_providers::SendFailure::Other)
        }
    };
    let now = state.clock.now();
    let outcome = attempt::outcome(result, delivery.attempts, &settings.retry_schedule, now);
    tracing::debug!(webhook = %endpoint.id, event = %delivery.event_id, ?outcome, "webhook attempt");
    let failing_since = match state.store.finish_delivery(&delivery, &outcome, now).await {
        Ok(failing_since) => failing_since,
        Err(e) => {
            tracing::error!(webhook = %endpoint.id, event = %delivery.event_id, error = %e, "webhook attempt could not be recorded; it will be sent again");
            return;
        }
    };
    let disable_after = i64::try_from(settings.disable_after.as_millis()).unwrap_or(i64::MAX);
    if !matches!(outcome, Attempt::Delivered { .. })
        && failing_since.is_some_and(|since| now.millis().saturating_sub(since.millis()) >= disable_after)
    {
        disable(state, &endpoint.id, failing_since.unwrap_or(now), now).await;
    }
}

/// Stops deliveries to an endpoint that has failed every attempt since `since`.
async fn disable(state: &AppState, id: &str, since: Timestamp, now: Timestamp) {
    let event = AuditEvent {
        actor_role: "system".into(),
        action: AuditAction::WebhookDisabled.as_str().into(),
        outcome: "ok".into(),
        detail: Some(format!("webhook {id}: every attempt failed since {since}")),
        ..AuditEvent::default()
    };
    match state.audit.commit(Change::DisableWebhook { id: id.to_owned(), now }, vec![event]).await {
        Ok(true) => {
            tracing::warn!(webhook = %id, since = %since, "webhook endpoint disabled: it has failed for too long")
        }
        Ok(false) => {}
        Err(e) => tracing::error!(webhook = %id, error = %e, "webhook endpoint could not be disabled"),
    }
}

async fn prune(state: &AppState) {
    let retention = i64::try_from(state.settings.webhooks.retention.as_millis()).unwrap_or(i64::MAX);
    let before = Timestamp::from_millis(state.clock.now().millis().saturating_sub(retention));
    match state.store.prune_deliveries(before).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deliveries = n, "old webhook deliveries removed"),
        Err(e) => tracing::warn!(error = %e, "old webhook deliveries could not be removed"),
    }
}
