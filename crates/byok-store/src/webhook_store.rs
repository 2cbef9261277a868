//! What webhook delivery keeps: endpoints and their outbox of deliveries. Endpoints are
//! created, deleted and disabled through [`crate::Change`] (with their audit entries);
//! events enter the outbox in the transaction of the change that caused them.

use async_trait::async_trait;
use byok_core::{EventType, Timestamp};

use crate::StoreError;

/// One endpoint. `sealed` is its signing secret, sealed under `key_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<EventType>,
    pub key_id: String,
    pub sealed: Vec<u8>,
    pub enabled: bool,
    /// The first failed attempt since the last delivered one.
    pub failing_since: Option<Timestamp>,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// To be sent (again) at `next_attempt_at`.
    Pending,
    Delivered,
    /// No attempt is left, or the endpoint refused it for good.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "failed" => Ok(DeliveryState::Failed),
            other => Err(StoreError::Corrupt(format!("unknown delivery state `{other}`"))),
        }
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub seq: i64,
    pub webhook_id: String,
    /// The event's id: the `webhook-id` header of every attempt.
    pub event_id: String,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    /// When it was delivered or given up.
    pub finished_at: Option<Timestamp>,
    /// The JSON body sent.
    pub body: String,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered {
        status: u16,
    },
    /// Failed; try again at `at`.
    Retry {
        status: Option<u16>,
        error: String,
        at: Timestamp,
    },
    /// Failed for good.
    GiveUp {
        status: Option<u16>,
        error: String,
    },
}

#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError>;
    async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>, StoreError>;
    /// An endpoint's deliveries, newest first, before `before_seq`.
    async fn webhook_deliveries(
        &self,
        webhook_id: &str,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Makes a delivery due now again (whatever its state) and enables its endpoint.
    /// `None` when there is no such delivery.
    async fn retry_delivery(
        &self,
        webhook_id: &str,
        event_id: &str,
        now: Timestamp,
    ) -> Result<Option<Delivery>, StoreError>;
    /// Leases up to `limit` due deliveries of enabled endpoints until `lease_until`, the
    /// oldest first and only the oldest pending one of each endpoint and subject (events
    /// of one credential arrive in order). Instances never lease the same delivery at
    /// once; a lease that runs out (its instance died) is taken again.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Records an attempt and ends the lease; keeps the endpoint's `failing_since`.
    /// Returns the endpoint's `failing_since` after it.
    async fn finish_delivery(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError>;
    /// Makes these thresholds (thousandths of a monthly limit) the ones usage alerts
    /// fire at, on every instance.
    async fn set_usage_thresholds(&self, permille: &[i32]) -> Result<(), StoreError>;
    /// Turns up to `limit` usage alerts (recorded with the units that raised them) into
    /// webhook events, in one transaction: each alert becomes its events once, on any
    /// number of instances. Returns how many alerts it took.
    async fn publish_usage_alerts(&self, limit: u32) -> Result<usize, StoreError>;
    /// Removes delivered and failed deliveries finished before `before`.
    async fn prune_deliveries(&self, before: Timestamp) -> Result<u64, StoreError>;
}
