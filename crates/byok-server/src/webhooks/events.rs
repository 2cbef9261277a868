use byok_core::{Credential, EventType, Timestamp, WebhookEvent};

/// The events of a change to a credential: `before` is what was stored (none for a new
/// one), `after` what is written (none when it is deleted).
pub fn credential_change(before: Option<&Credential>, after: Option<&Credential>, at: Timestamp) -> Vec<WebhookEvent> {
    match (before, after) {
        (None, Some(new)) => vec![WebhookEvent::credential(EventType::CredentialCreated, new, at)],
        (Some(old), Some(new)) => {
            let mut events = vec![WebhookEvent::credential(EventType::CredentialUpdated, new, at)];
            events.extend(WebhookEvent::status_change(old, new, at));
            events
        }
        (Some(old), None) => vec![WebhookEvent::credential(EventType::CredentialDeleted, old, at)],
        (None, None) => Vec::new(),
    }
}
