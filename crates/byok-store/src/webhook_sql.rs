//! The SQL of [`crate::WebhookStore`], shared by both engines like `sql_store.rs`:
//! `impl_webhook_store!` stamps it onto each engine's store type, with the lock clause
//! that lets PostgreSQL instances claim deliveries side by side.

/// Puts one event into the outbox: a delivery for each enabled endpoint subscribed to
/// its type. The same text for every driver (`$n` bind by position in SQLite too).
pub(crate) const INSERT_EVENT: &str = concat!(
    "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, subject, body, state, attempts, ",
    "next_attempt_at, created_at) SELECT s.webhook_id, $1, $2, $3, $4, 'pending', 0, $5, $5 ",
    "FROM webhook_subscriptions s JOIN webhooks w ON w.id = s.webhook_id WHERE s.event = $2 AND w.enabled = TRUE"
);

macro_rules! delivery_columns {
    () => {
        "seq, webhook_id, event_id, event_type, state, attempts, next_attempt_at, last_status, last_error, created_at, finished_at, body"
    };
}

/// Writes `$events` (a slice of [`byok_core::WebhookEvent`]) into the outbox in `$tx`.
macro_rules! insert_events {
    ($tx:expr, $events:expr) => {{
        for e in $events {
            let e: &byok_core::WebhookEvent = e;
            sqlx::query($crate::webhook_sql::INSERT_EVENT)
                .bind(&e.id)
                .bind(e.kind.as_str())
                .bind(&e.subject)
                .bind(&e.body)
                .bind(e.at.millis())
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

macro_rules! impl_webhook_store {
    ($store:ty, $db:ty, $claim_lock:literal, $claim_lock_plain:literal) => {
        #[async_trait::async_trait]
        impl $crate::WebhookStore for $store {
            async fn list_webhooks(&self) -> Result<Vec<$crate::Webhook>, $crate::StoreError> {
                let rows: Vec<$crate::webhook_rows::WebhookRow> =
                    sqlx::query_as(concat!("SELECT ", webhook_columns!(), " FROM webhooks ORDER BY created_at, id"))
                        .fetch_all(&self.pool)
                        .await?;
                let subscriptions: Vec<(String, String)> =
                    sqlx::query_as("SELECT webhook_id, event FROM webhook_subscriptions").fetch_all(&self.pool).await?;
                $crate::webhook_rows::webhooks(rows, subscriptions)
            }

            async fn get_webhook(&self, id: &str) -> Result<Option<$crate::Webhook>, $crate::StoreError> {
                let rows: Vec<$crate::webhook_rows::WebhookRow> =
                    sqlx::query_as(concat!("SELECT ", webhook_columns!(), " FROM webhooks WHERE id = $1"))
                        .bind(id)
                        .fetch_all(&self.pool)
                        .await?;
                let subscriptions: Vec<(String, String)> =
                    sqlx::query_as("SELECT webhook_id, event FROM webhook_subscriptions WHERE webhook_id = $1")
                        .bind(id)
                        .fetch_all(&self.pool)
                        .await?;
                Ok($crate::webhook_rows::webhooks(rows, subscriptions)?.pop())
            }

            async fn webhook_deliveries(
                &self,
                webhook_id: &str,
                before_seq: Option<i64>,
                limit: u32,
            ) -> Result<Vec<$crate::Delivery>, $crate::StoreError> {
                let rows: Vec<$crate::webhook_rows::DeliveryRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    delivery_columns!(),
                    " FROM webhook_deliveries WHERE webhook_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
                ))
                .bind(webhook_id)
                .bind(before_seq.unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn retry_delivery(
                &self,
                webhook_id: &str,
                event_id: &str,
                now: byok_core::Timestamp,
            ) -> Result<Option<$crate::Delivery>, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let row: Option<$crate::webhook_rows::DeliveryRow> = sqlx::query_as(concat!(
                    "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, leased_until = NULL, ",
                    "finished_at = NULL WHERE webhook_id = $2 AND event_id = $3 RETURNING ",
                    delivery_columns!()
                ))
                .bind(now.millis())
                .bind(webhook_id)
                .bind(event_id)
                .fetch_optional(&mut *tx)
                .await?;
                if row.is_some() {
                    sqlx::query(
                        "UPDATE webhooks SET enabled = TRUE, disabled_at = NULL, failing_since = NULL WHERE id = $1 AND enabled = FALSE",
                    )
                    .bind(webhook_id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn claim_deliveries(
                &self,
                now: byok_core::Timestamp,
                lease_until: byok_core::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::Delivery>, $crate::StoreError> {
                // The outer WHERE re-checks the lease on the row it updates: of two
                // instances that picked the same row, one updates it.
                let rows: Vec<$crate::webhook_rows::DeliveryRow> = sqlx::query_as(concat!(
                    "UPDATE webhook_deliveries SET leased_until = $2 WHERE seq IN (",
                    "SELECT d.seq FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id ",
                    "WHERE d.state = 'pending' AND d.next_attempt_at <= $1 ",
                    "AND (d.leased_until IS NULL OR d.leased_until <= $1) AND w.enabled = TRUE ",
                    "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id ",
                    "AND e.subject = d.subject AND e.state = 'pending' AND e.seq < d.seq) ",
                    "ORDER BY d.seq LIMIT $3",
                    $claim_lock,
                    ") AND state = 'pending' AND (leased_until IS NULL OR leased_until <= $1) RETURNING ",
                    delivery_columns!()
                ))
                .bind(now.millis())
                .bind(lease_until.millis())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                let mut claimed: Vec<$crate::Delivery> =
                    rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
                claimed.sort_by_key(|d| d.seq);
                Ok(claimed)
            }

            async fn finish_delivery(
                &self,
                delivery: &$crate::Delivery,
                attempt: &$crate::Attempt,
                now: byok_core::Timestamp,
            ) -> Result<Option<byok_core::Timestamp>, $crate::StoreError> {
                let (state, status, error, next) = match attempt {
                    $crate::Attempt::Delivered { status } => ("delivered", Some(*status), None, None),
                    $crate::Attempt::Retry { status, error, at } => ("pending", *status, Some(error.as_str()), Some(*at)),
                    $crate::Attempt::GiveUp { status, error } => ("failed", *status, Some(error.as_str()), None),
                };
                let mut tx = self.pool.begin().await?;
                sqlx::query(concat!(
                    "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_status = $2, ",
                    "last_error = $3, next_attempt_at = coalesce($4, next_attempt_at), leased_until = NULL, ",
                    "finished_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $5 END WHERE seq = $6"
                ))
                .bind(state)
                .bind(status.map(i32::from))
                .bind(error)
                .bind(next.map(|t| t.millis()))
                .bind(now.millis())
                .bind(delivery.seq)
                .execute(&mut *tx)
                .await?;
                let failing: Option<(Option<i64>,)> = if state == "delivered" {
                    sqlx::query_as("UPDATE webhooks SET failing_since = NULL WHERE id = $1 RETURNING failing_since")
                        .bind(&delivery.webhook_id)
                        .fetch_optional(&mut *tx)
                        .await?
                } else {
                    sqlx::query_as(
                        "UPDATE webhooks SET failing_since = coalesce(failing_since, $1) WHERE id = $2 RETURNING failing_since",
                    )
                    .bind(now.millis())
                    .bind(&delivery.webhook_id)
                    .fetch_optional(&mut *tx)
                    .await?
                };
                tx.commit().await?;
                Ok(failing.and_then(|(at,)| at).map(byok_core::Timestamp::from_millis))
            }

            async fn set_usage_thresholds(&self, permille: &[i32]) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM usage_alert_thresholds").execute(&mut *tx).await?;
                for p in permille {
                    sqlx::query("INSERT INTO usage_alert_thresholds (permille) VALUES ($1)").bind(p).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn publish_usage_alerts(&self, limit: u32) -> Result<usize, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let alerts: Vec<(String, String, i32, i64, i64, i64, i64)> = sqlx::query_as(concat!(
                    "DELETE FROM usage_alerts WHERE id IN (SELECT id FROM usage_alerts ORDER BY id LIMIT $1",
                    $claim_lock_plain,
                    ") RETURNING subject_kind, subject_id, permille, used, monthly_limit, period_start, at"
                ))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                let mut events = Vec::with_capacity(alerts.len());
                for (kind, subject, permille, used, limit, period, at) in &alerts {
                    let crossing = byok_core::Crossing { permille: *permille, used: *used, limit: *limit };
                    let (period, at) = (byok_core::Timestamp::from_millis(*period), byok_core::Timestamp::from_millis(*at));
                    if kind == "credential" {
                        let sql = concat!("SELECT ", credential_columns!(), " FROM credentials WHERE id = $1");
                        let row: Option<$crate::rows::CredentialRow> =
                            sqlx::query_as(sql).bind(subject).fetch_optional(&mut *tx).await?;
                        if let Some(row) = row {
                            let c: byok_core::Credential = row.try_into()?;
                            events.push(byok_core::WebhookEvent::credential_threshold(&c, crossing, period, at));
                        }
                    } else {
                        let owner: Option<(Option<String>,)> = sqlx::query_as("SELECT owner FROM tokens WHERE id = $1")
                            .bind(subject)
                            .fetch_optional(&mut *tx)
                            .await?;
                        if let Some((Some(owner),)) = owner {
                            events.push(byok_core::WebhookEvent::virtual_key_threshold(subject, &owner, crossing, period, at));
                        }
                    }
                }
                insert_events!(tx, &events);
                tx.commit().await?;
                Ok(alerts.len())
            }

            async fn prune_deliveries(&self, before: byok_core::Timestamp) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND finished_at < $1")
                    .bind(before.millis())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

macro_rules! webhook_columns {
    () => {
        "id, url, description, key_id, sealed, enabled, failing_since, disabled_at, created_at"
    };
}

pub(crate) use {delivery_columns, impl_webhook_store, insert_events, webhook_columns};
