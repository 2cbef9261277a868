//! Events a product hears about through its webhooks, and the message each becomes: the
//! Standard Webhooks body `{"type", "timestamp", "data"}`. `data` names the credential
//! (or virtual key), its owner, provider and label, and hints at most: never a secret.

use serde_json::{Value, json};

use crate::{Credential, DomainError, Status, Timestamp};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    CredentialCreated,
    CredentialUpdated,
    CredentialDeleted,
    CredentialStatusChanged,
    CredentialUsageThreshold,
    VirtualKeyUsageThreshold,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::CredentialCreated,
        EventType::CredentialUpdated,
        EventType::CredentialDeleted,
        EventType::CredentialStatusChanged,
        EventType::CredentialUsageThreshold,
        EventType::VirtualKeyUsageThreshold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CredentialCreated => "credential.created",
            EventType::CredentialUpdated => "credential.updated",
            EventType::CredentialDeleted => "credential.deleted",
            EventType::CredentialStatusChanged => "credential.status_changed",
            EventType::CredentialUsageThreshold => "credential.usage_threshold",
            EventType::VirtualKeyUsageThreshold => "virtual_key.usage_threshold",
        }
    }

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|t| t.as_str() == text).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
            DomainError::invalid("events", format!("each must be one of {}", names.join(", ")))
        })
    }
}

/// One event, ready for the outbox: written in the transaction of the change that
/// caused it, then delivered to every endpoint subscribed to its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The `webhook-id` of every delivery of this event (`msg_…`), the same on retries.
    pub id: String,
    pub kind: EventType,
    /// The credential or virtual key it is about: events of one subject reach an
    /// endpoint in order.
    pub subject: String,
    /// The JSON body sent.
    pub body: String,
    pub at: Timestamp,
}

impl WebhookEvent {
    fn new(kind: EventType, subject: String, data: Value, at: Timestamp) -> Self {
        let body = json!({ "type": kind.as_str(), "timestamp": at.to_rfc3339(), "data": data }).to_string();
        Self { id: format!("msg_{}", uuid::Uuid::now_v7().simple()), kind, subject, body, at }
    }

    /// `credential.created`, `credential.updated` or `credential.deleted` of `c`.
    pub fn credential(kind: EventType, c: &Credential, at: Timestamp) -> Self {
        let mut data = credential_data(c);
        if kind != EventType::CredentialDeleted {
            data["status"] = json!(c.effective_status().as_str());
            data["enabled"] = json!(c.enabled);
            data["hints"] = json!(c.secret_hints);
        }
        Self::new(kind, c.id.to_string(), data, at)
    }

    /// `credential.status_changed` from `before` to `after` (the same credential), when
    /// the status people rely on moved: `disabled` for a disabled one, else its stored
    /// status (a test running is not a change).
    pub fn status_change(before: &Credential, after: &Credential, at: Timestamp) -> Option<Self> {
        let (from, to) = (announced_status(before), announced_status(after));
        if from == to {
            return None;
        }
        let mut data = credential_data(after);
        data["from"] = json!(from.as_str());
        data["to"] = json!(to.as_str());
        data["message"] = json!(after.status_message);
        Some(Self::new(EventType::CredentialStatusChanged, after.id.to_string(), data, at))
    }

    /// `credential.usage_threshold`: `c`'s counter in the period starting at `period`
    /// reached a threshold.
    pub fn credential_threshold(c: &Credential, crossing: Crossing, period: Timestamp, at: Timestamp) -> Self {
        let mut data = credential_data(c);
        crossing.describe(&mut data);
        data["period_start"] = json!(period.to_rfc3339());
        Self::new(EventType::CredentialUsageThreshold, c.id.to_string(), data, at)
    }

    /// `virtual_key.usage_threshold` of the key `key_id` of `owner`.
    pub fn virtual_key_threshold(
        key_id: &str,
        owner: &str,
        crossing: Crossing,
        period: Timestamp,
        at: Timestamp,
    ) -> Self {
        let mut data = json!({ "virtual_key_id": key_id, "owner": owner, "period_start": period.to_rfc3339() });
        crossing.describe(&mut data);
        Self::new(EventType::VirtualKeyUsageThreshold, key_id.to_owned(), data, at)
    }
}

fn announced_status(c: &Credential) -> Status {
    if c.enabled { c.status } else { Status::Disabled }
}

fn credential_data(c: &Credential) -> Value {
    json!({
        "credential_id": c.id.to_string(),
        "owner": c.owner.to_string(),
        "provider": c.provider.as_str(),
        "label": c.label.as_str(),
    })
}

/// A counter reaching a fraction (in thousandths) of its monthly limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crossing {
    pub permille: i32,
    pub used: i64,
    pub limit: i64,
}

impl Crossing {
    fn describe(&self, data: &mut Value) {
        data["threshold"] = json!(f64::from(self.permille) / 1000.0);
        data["used"] = json!(self.used);
        data["limit"] = json!(self.limit);
    }
}

/// The fractions of a monthly limit at which an alert fires (0.8 and 1.0 by default),
/// in thousandths: the database compares them with counters in integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageThresholds(Vec<i32>);

impl Default for UsageThresholds {
    fn default() -> Self {
        Self(vec![800, 1000])
    }
}

impl UsageThresholds {
    /// A comma list of fractions in (0, 1] to the thousandth, e.g. `0.5,0.8,1.0`;
    /// empty turns alerts off.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let mut all = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let permille = part.parse::<f64>().ok().map(|t| (t * 1000.0).round()).filter(|p| *p >= 1.0 && *p <= 1000.0);
            match permille {
                Some(p) => all.push(p as i32),
                None => {
                    return Err(DomainError::invalid("usage alert thresholds", "each must be a fraction in (0, 1]"));
                }
            }
        }
        all.sort_unstable();
        all.dedup();
        Ok(Self(all))
    }

    pub fn permille(&self) -> &[i32] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_from_a_comma_list() {
        assert_eq!(UsageThresholds::parse("1.0, 0.5").unwrap().permille(), &[500, 1000]);
        assert_eq!(UsageThresholds::parse("0.8,0.80").unwrap().permille(), &[800]);
        assert_eq!(UsageThresholds::parse("").unwrap().permille(), &[] as &[i32]);
        assert!(UsageThresholds::parse("1.5").is_err());
        assert!(UsageThresholds::parse("0").is_err());
        assert!(UsageThresholds::parse("abc").is_err());
    }

    #[test]
    fn event_types_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()).unwrap(), t);
        }
        assert!(EventType::parse("credential.eaten").is_err());
    }

    fn credential() -> Credential {
        let at = Timestamp::from_millis(0);
        Credential {
            id: crate::CredentialId::new(),
            owner: "user:alice".parse().unwrap(),
            provider: crate::ProviderId::parse("openai").unwrap(),
            label: crate::Label::parse("main").unwrap(),
            config: Default::default(),
            secret_hints: Default::default(),
            key_id: "k1".into(),
            sealed: Vec::new(),
            status: Status::Connected,
            status_message: None,
            last_tested_at: None,
            last_used_at: None,
            enabled: true,
            priority: 0,
            monthly_limit: None,
            monthly_token_limit: None,
            rate_limit_per_minute: None,
            usage_total: 0,
            usage_period: 0,
            period_start: at,
            version: 1,
            revision: 1,
            created_at: at,
            updated_at: at,
            verifying_since: None,
        }
    }

    #[test]
    fn a_status_change_is_announced_only_when_it_moves() {
        let c = credential();
        assert!(WebhookEvent::status_change(&c, &c, Timestamp::from_millis(0)).is_none());
        let failing = Credential { status: Status::Error, status_message: Some("401".into()), ..c.clone() };
        let e = WebhookEvent::status_change(&c, &failing, Timestamp::from_millis(0)).unwrap();
        let body: Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(body["type"], "credential.status_changed");
        assert_eq!(body["data"]["from"], c.status.as_str());
        assert_eq!(body["data"]["to"], "error");
        assert_eq!(body["data"]["message"], "401");
        let disabled = Credential { enabled: false, ..failing.clone() };
        let e = WebhookEvent::status_change(&failing, &disabled, Timestamp::from_millis(0)).unwrap();
        assert!(e.body.contains(r#""to":"disabled""#));
    }
}
