//! byok's domain: validated newtypes, the catalog model, credentials and principals.
//! Nothing here does I/O; every value is parsed once at the edge and trusted after.

mod audit;
mod catalog;
mod clock;
mod credential;
mod error;
mod ids;
mod owner;
mod path_rule;
mod period;
mod platform_env;
mod principal;
mod redact;
mod resolution;
mod secret;
mod timestamp;
mod virtual_key;
mod webhook;

pub use audit::{AuditAction, AuditEvent, AuditRecord};
pub use catalog::{
    AuthSpec, Catalog, Category, Dialect, FieldSpec, ProbeAdapter, ProbeErrors, ProbeMethod, ProbeSpec, ProviderSpec,
    ProxyOrigin, SplitFields, echo_name,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use credential::{Credential, Status, secret_hint};
pub use error::DomainError;
pub use ids::{CredentialId, Label, ProviderId, TokenId};
pub use owner::{OrgId, Owner, UserId};
pub use path_rule::PathRule;
pub use period::PeriodAnchor;
pub use platform_env::{EnvCredential, PlatformEnv};
pub use principal::{Principal, Role, Token};
pub use redact::redact_tokens;
pub use resolution::{Tier, resolution_chain};
pub use secret::{SecretFields, SecretValue};
pub use timestamp::Timestamp;
pub use virtual_key::{ModelPattern, VirtualKey, VirtualKeyUsage};
pub use webhook::{Crossing, EventType, UsageThresholds, WebhookEvent};
