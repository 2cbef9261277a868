use std::time::Duration;

use byok_core::UsageThresholds;

/// How webhooks are delivered (`BYOK_WEBHOOK_*`, `BYOK_USAGE_ALERT_THRESHOLDS`).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The wait before each retry of a failed attempt; its length is how many retries
    /// there are.
    pub retry_schedule: Vec<Duration>,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// How long delivered and failed deliveries are kept.
    pub retention: Duration,
    /// How long an endpoint may fail every attempt before it is disabled.
    pub disable_after: Duration,
    /// How often an instance looks for due deliveries when nothing wakes it.
    pub poll_interval: Duration,
    pub usage_thresholds: UsageThresholds,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            retry_schedule: [5, 300, 1800, 7200, 18000, 36000, 36000].map(Duration::from_secs).to_vec(),
            timeout: Duration::from_secs(15),
            retention: Duration::from_secs(7 * 24 * 3600),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            poll_interval: Duration::from_secs(1),
            usage_thresholds: UsageThresholds::default(),
        }
    }
}

/// `BYOK_WEBHOOK_RETRY_SCHEDULE`: seconds, comma-separated (`5,300,1800`).
pub fn parse_retry_schedule(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<u64>().map(Duration::from_secs).map_err(|_| "must be whole seconds, comma-separated".to_owned())
        })
        .collect()
}
