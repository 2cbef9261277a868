//! Webhooks: events a product subscribes to, written to a durable outbox in the
//! transaction of their cause and delivered at least once, signed per the Standard
//! Webhooks specification, by every instance side by side.

mod attempt;
mod dispatcher;
mod events;
mod settings;

pub(crate) use dispatcher::start;
pub use events::credential_change;
pub use settings::{WebhookSettings, parse_retry_schedule};
