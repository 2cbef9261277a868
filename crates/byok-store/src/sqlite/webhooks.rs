//! [`WebhookStore`] on SQLite: the outbox's deliveries and the usage alerts. One
//! instance serves a SQLite file, so a claim needs no row locks.

use async_trait::async_trait;
use byok_core::{Credential, Crossing, Timestamp, WebhookEvent};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{SqliteStore, change, rows};
use crate::rows::CREDENTIAL_COLUMNS;
use crate::webhook_rows::{DELIVERY_COLUMNS, WEBHOOK_COLUMNS, webhooks};
use crate::{Attempt, Delivery, StoreError, Webhook, WebhookStore};

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        self.readers
            .run(|conn| {
                let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id");
                let found = conn.prepare_cached(&sql)?.query_map([], rows::webhook)?.collect::<Result<_, _>>()?;
                let subscriptions = conn
                    .prepare_cached("SELECT webhook_id, event FROM webhook_subscriptions")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                webhooks(found, subscriptions)
            })
            .await
    }

    async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>, StoreError> {
        let id = id.to_owned();
        self.readers
            .run(move |conn| {
                let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?1");
                let found = conn.prepare_cached(&sql)?.query_map([&id], rows::webhook)?.collect::<Result<_, _>>()?;
                let subscriptions = conn
                    .prepare_cached("SELECT webhook_id, event FROM webhook_subscriptions WHERE webhook_id = ?1")?
                    .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                Ok(webhooks(found, subscriptions)?.pop())
            })
            .await
    }

    async fn webhook_deliveries(
        &self,
        webhook_id: &str,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let webhook_id = webhook_id.to_owned();
        let found = self
            .readers
            .run(move |conn| {
                let sql = format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ?1 AND seq < ?2 \
                     ORDER BY seq DESC LIMIT ?3"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let found = stmt
                    .query_map(params![webhook_id, before_seq.unwrap_or(i64::MAX), i64::from(limit)], rows::delivery)?;
                Ok(found.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        found.into_iter().map(TryInto::try_into).collect()
    }

    async fn retry_delivery(
        &self,
        webhook_id: &str,
        event_id: &str,
        now: Timestamp,
    ) -> Result<Option<Delivery>, StoreError> {
        let (webhook_id, event_id) = (webhook_id.to_owned(), event_id.to_owned());
        let row = self
            .readers
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let sql = format!(
                    "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?1, leased_until = NULL, \
                     finished_at = NULL WHERE webhook_id = ?2 AND event_id = ?3 RETURNING {DELIVERY_COLUMNS}"
                );
                let row = tx
                    .prepare_cached(&sql)?
                    .query_row(params![now.millis(), webhook_id, event_id], rows::delivery)
                    .optional()?;
                if row.is_some() {
                    tx.prepare_cached(
                        "UPDATE webhooks SET enabled = TRUE, disabled_at = NULL, failing_since = NULL \
                         WHERE id = ?1 AND enabled = FALSE",
                    )?
                    .execute([&webhook_id])?;
                }
                tx.commit()?;
                Ok(row)
            })
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let found = self
            .readers
            .run(move |conn| {
                // The outer WHERE re-checks the lease on the row it updates.
                let sql = format!(
                    "UPDATE webhook_deliveries SET leased_until = ?2 WHERE seq IN (\
                     SELECT d.seq FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                     WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 \
                     AND (d.leased_until IS NULL OR d.leased_until <= ?1) AND w.enabled = TRUE \
                     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id \
                     AND e.subject = d.subject AND e.state = 'pending' AND e.seq < d.seq) \
                     ORDER BY d.seq LIMIT ?3) AND state = 'pending' AND (leased_until IS NULL OR leased_until <= ?1) \
                     RETURNING {DELIVERY_COLUMNS}"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let found =
                    stmt.query_map(params![now.millis(), lease_until.millis(), i64::from(limit)], rows::delivery)?;
                Ok(found.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        let mut claimed: Vec<Delivery> = found.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
        claimed.sort_by_key(|d| d.seq);
        Ok(claimed)
    }

    async fn finish_delivery(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let (state, status, error, next) = match attempt {
            Attempt::Delivered { status } => ("delivered", Some(*status), None, None),
            Attempt::Retry { status, error, at } => ("pending", *status, Some(error.clone()), Some(*at)),
            Attempt::GiveUp { status, error } => ("failed", *status, Some(error.clone()), None),
        };
        let (seq, webhook_id) = (delivery.seq, delivery.webhook_id.clone());
        let failing = self
            .readers
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.prepare_cached(concat!(
                    "UPDATE webhook_deliveries SET state = ?1, attempts = attempts + 1, last_status = ?2, ",
                    "last_error = ?3, next_attempt_at = coalesce(?4, next_attempt_at), leased_until = NULL, ",
                    "finished_at = CASE WHEN ?1 = 'pending' THEN NULL ELSE ?5 END WHERE seq = ?6"
                ))?
                .execute(params![state, status.map(i32::from), error, next.map(|t| t.millis()), now.millis(), seq])?;
                let failing: Option<Option<i64>> = if state == "delivered" {
                    tx.prepare_cached("UPDATE webhooks SET failing_since = NULL WHERE id = ?1 RETURNING failing_since")?
                        .query_row([&webhook_id], |r| r.get(0))
                        .optional()?
                } else {
                    tx.prepare_cached(
                        "UPDATE webhooks SET failing_since = coalesce(failing_since, ?1) WHERE id = ?2 RETURNING failing_since",
                    )?
                    .query_row(params![now.millis(), webhook_id], |r| r.get(0))
                    .optional()?
                };
                tx.commit()?;
                Ok(failing.flatten())
            })
            .await?;
        Ok(failing.map(Timestamp::from_millis))
    }

    async fn set_usage_thresholds(&self, permille: &[i32]) -> Result<(), StoreError> {
        let permille = permille.to_vec();
        self.readers
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.prepare_cached("DELETE FROM usage_alert_thresholds")?.execute([])?;
                let mut insert = tx.prepare_cached("INSERT INTO usage_alert_thresholds (permille) VALUES (?1)")?;
                for p in permille {
                    insert.execute([p])?;
                }
                drop(insert);
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn publish_usage_alerts(&self, limit: u32) -> Result<usize, StoreError> {
        self.readers
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let alerts: Vec<(String, String, i32, i64, i64, i64, i64)> = tx
                    .prepare_cached(concat!(
                        "DELETE FROM usage_alerts WHERE id IN (SELECT id FROM usage_alerts ORDER BY id LIMIT ?1) ",
                        "RETURNING subject_kind, subject_id, permille, used, monthly_limit, period_start, at"
                    ))?
                    .query_map([i64::from(limit)], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
                    })?
                    .collect::<Result<_, _>>()?;
                let mut events = Vec::with_capacity(alerts.len());
                for (kind, subject, permille, used, limit, period, at) in &alerts {
                    let crossing = Crossing { permille: *permille, used: *used, limit: *limit };
                    let (period, at) = (Timestamp::from_millis(*period), Timestamp::from_millis(*at));
                    if kind == "credential" {
                        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = ?1");
                        let row = tx.prepare_cached(&sql)?.query_row([subject], rows::credential).optional()?;
                        if let Some(row) = row {
                            let c: Credential = row.try_into()?;
                            events.push(WebhookEvent::credential_threshold(&c, crossing, period, at));
                        }
                    } else {
                        let owner: Option<Option<String>> = tx
                            .prepare_cached("SELECT owner FROM tokens WHERE id = ?1")?
                            .query_row([subject], |r| r.get(0))
                            .optional()?;
                        if let Some(Some(owner)) = owner {
                            events.push(WebhookEvent::virtual_key_threshold(subject, &owner, crossing, period, at));
                        }
                    }
                }
                change::insert_events(&tx, &events)?;
                tx.commit()?;
                Ok(alerts.len())
            })
            .await
    }

    async fn prune_deliveries(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.readers
            .run(move |conn| {
                let done = conn
                    .prepare_cached("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND finished_at < ?1")?
                    .execute([before.millis()])?;
                Ok(done as u64)
            })
            .await
    }
}
