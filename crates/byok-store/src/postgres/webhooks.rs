//! [`WebhookStore`] on PostgreSQL: the outbox's deliveries and the usage alerts. Claims
//! skip rows another instance holds, so instances deliver side by side.

use async_trait::async_trait;
use byok_core::{Credential, Crossing, Timestamp, WebhookEvent};
use deadpool_postgres::GenericClient;

use super::{PgStore, change, rows};
use crate::rows::CREDENTIAL_COLUMNS;
use crate::webhook_rows::{DELIVERY_COLUMNS, WEBHOOK_COLUMNS, webhooks};
use crate::{Attempt, Delivery, StoreError, Webhook, WebhookStore};

#[async_trait]
impl WebhookStore for PgStore {
    async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id");
        let found = client.query(&client.prepare_cached(&sql).await?, &[]).await?;
        let subscriptions = client
            .query(&client.prepare_cached("SELECT webhook_id, event FROM webhook_subscriptions").await?, &[])
            .await?;
        webhooks(
            found.iter().map(rows::webhook).collect::<Result<_, _>>()?,
            subscriptions
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, tokio_postgres::Error>>()?,
        )
    }

    async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
        let found = client.query(&client.prepare_cached(&sql).await?, &[&id]).await?;
        let sql = "SELECT webhook_id, event FROM webhook_subscriptions WHERE webhook_id = $1";
        let subscriptions = client.query(&client.prepare_cached(sql).await?, &[&id]).await?;
        let found = webhooks(
            found.iter().map(rows::webhook).collect::<Result<_, _>>()?,
            subscriptions
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, tokio_postgres::Error>>()?,
        )?;
        Ok(found.into_iter().next())
    }

    async fn webhook_deliveries(
        &self,
        webhook_id: &str,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        );
        let found = client
            .query(
                &client.prepare_cached(&sql).await?,
                &[&webhook_id, &before_seq.unwrap_or(i64::MAX), &i64::from(limit)],
            )
            .await?;
        found.iter().map(|r| rows::delivery(r)?.try_into()).collect()
    }

    async fn retry_delivery(
        &self,
        webhook_id: &str,
        event_id: &str,
        now: Timestamp,
    ) -> Result<Option<Delivery>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let sql = format!(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, leased_until = NULL, \
             finished_at = NULL WHERE webhook_id = $2 AND event_id = $3 RETURNING {DELIVERY_COLUMNS}"
        );
        let row = tx.query_opt(&tx.prepare_cached(&sql).await?, &[&now.millis(), &webhook_id, &event_id]).await?;
        if row.is_some() {
            let sql = "UPDATE webhooks SET enabled = TRUE, disabled_at = NULL, failing_since = NULL WHERE id = $1 AND enabled = FALSE";
            tx.execute(&tx.prepare_cached(sql).await?, &[&webhook_id]).await?;
        }
        tx.commit().await?;
        row.map(|r| rows::delivery(&r)?.try_into()).transpose()
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let client = self.client().await?;
        // The outer WHERE re-checks the lease on the row it updates: of two instances
        // that picked the same row, one updates it.
        let sql = format!(
            "UPDATE webhook_deliveries SET leased_until = $2 WHERE seq IN (\
             SELECT d.seq FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
             AND (d.leased_until IS NULL OR d.leased_until <= $1) AND w.enabled = TRUE \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id \
             AND e.subject = d.subject AND e.state = 'pending' AND e.seq < d.seq) \
             ORDER BY d.seq LIMIT $3 FOR UPDATE OF d SKIP LOCKED) \
             AND state = 'pending' AND (leased_until IS NULL OR leased_until <= $1) RETURNING {DELIVERY_COLUMNS}"
        );
        let found = client
            .query(&client.prepare_cached(&sql).await?, &[&now.millis(), &lease_until.millis(), &i64::from(limit)])
            .await?;
        let mut claimed: Vec<Delivery> =
            found.iter().map(|r| rows::delivery(r)?.try_into()).collect::<Result<_, _>>()?;
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
            Attempt::Retry { status, error, at } => ("pending", *status, Some(error.as_str()), Some(*at)),
            Attempt::GiveUp { status, error } => ("failed", *status, Some(error.as_str()), None),
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let sql = concat!(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_status = $2, ",
            "last_error = $3, next_attempt_at = coalesce($4, next_attempt_at), leased_until = NULL, ",
            "finished_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $5::bigint END WHERE seq = $6"
        );
        let status = status.map(i32::from);
        let next = next.map(|t| t.millis());
        tx.execute(&tx.prepare_cached(sql).await?, &[&state, &status, &error, &next, &now.millis(), &delivery.seq])
            .await?;
        let failing = if state == "delivered" {
            let sql = "UPDATE webhooks SET failing_since = NULL WHERE id = $1 RETURNING failing_since";
            tx.query_opt(&tx.prepare_cached(sql).await?, &[&delivery.webhook_id]).await?
        } else {
            let sql =
                "UPDATE webhooks SET failing_since = coalesce(failing_since, $1) WHERE id = $2 RETURNING failing_since";
            tx.query_opt(&tx.prepare_cached(sql).await?, &[&now.millis(), &delivery.webhook_id]).await?
        };
        tx.commit().await?;
        let failing: Option<i64> = failing.map(|r| r.try_get(0)).transpose()?.flatten();
        Ok(failing.map(Timestamp::from_millis))
    }

    async fn set_usage_thresholds(&self, permille: &[i32]) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(&tx.prepare_cached("DELETE FROM usage_alert_thresholds").await?, &[]).await?;
        let insert = tx.prepare_cached("INSERT INTO usage_alert_thresholds (permille) VALUES ($1)").await?;
        for p in permille {
            tx.execute(&insert, &[p]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn publish_usage_alerts(&self, limit: u32) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let sql = concat!(
            "DELETE FROM usage_alerts WHERE id IN (SELECT id FROM usage_alerts ORDER BY id LIMIT $1 ",
            "FOR UPDATE SKIP LOCKED) RETURNING subject_kind, subject_id, permille, used, monthly_limit, period_start, at"
        );
        let alerts = tx.query(&tx.prepare_cached(sql).await?, &[&i64::from(limit)]).await?;
        let mut events = Vec::with_capacity(alerts.len());
        for r in &alerts {
            let (kind, subject): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            let crossing = Crossing { permille: r.try_get(2)?, used: r.try_get(3)?, limit: r.try_get(4)? };
            let (period, at) = (Timestamp::from_millis(r.try_get(5)?), Timestamp::from_millis(r.try_get(6)?));
            if kind == "credential" {
                let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1");
                if let Some(row) = tx.query_opt(&tx.prepare_cached(&sql).await?, &[&subject]).await? {
                    let c: Credential = rows::credential(&row)?.try_into()?;
                    events.push(WebhookEvent::credential_threshold(&c, crossing, period, at));
                }
            } else {
                let sql = "SELECT owner FROM tokens WHERE id = $1";
                let owner = tx.query_opt(&tx.prepare_cached(sql).await?, &[&subject]).await?;
                if let Some(owner) = owner.map(|r| r.try_get::<_, Option<String>>(0)).transpose()?.flatten() {
                    events.push(WebhookEvent::virtual_key_threshold(&subject, &owner, crossing, period, at));
                }
            }
        }
        change::insert_events(&tx, &events).await?;
        tx.commit().await?;
        Ok(alerts.len())
    }

    async fn prune_deliveries(&self, before: Timestamp) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let sql = "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND finished_at < $1";
        Ok(client.execute(&client.prepare_cached(sql).await?, &[&before.millis()]).await?)
    }
}
