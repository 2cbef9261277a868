//! Short-lived credentials minted from a stored cloud key, for `resolve`'s
//! `"form": "short_lived"`: a Google OAuth access token, a Microsoft Entra token or an
//! AWS STS session. The stored key itself never leaves byok.

use byok_core::{AuthSpec, ProviderSpec, SecretFields, SecretValue, Timestamp};

use crate::probe::ProbeOutcomeKind;

/// A minted credential: its fields (all secret; `Debug` shows them redacted) and when
/// it stops working.
#[derive(Debug)]
pub struct ShortLived {
    pub fields: SecretFields,
    pub expires_at: Timestamp,
}

impl ShortLived {
    pub(crate) fn new(fields: impl IntoIterator<Item = (&'static str, String)>, expires_at: Timestamp) -> Self {
        let fields = fields.into_iter().map(|(name, value)| (name.to_owned(), SecretValue::new(value))).collect();
        Self { fields, expires_at }
    }
}

/// Why no credential was minted: the provider refused the stored key (`Invalid`,
/// `Restricted`) or gave no answer byok could use (`Unavailable`). `message` is for
/// people and holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintFailure {
    pub kind: ProbeOutcomeKind,
    pub message: String,
}

/// Whether `provider`'s credentials can mint short-lived ones: the clouds (Google
/// service accounts, Azure client credentials, AWS access keys).
pub fn mints_short_lived(provider: &ProviderSpec) -> bool {
    matches!(
        provider.auth,
        Some(AuthSpec::GoogleServiceAccount | AuthSpec::AzureClientCredentials | AuthSpec::AwsSigv4)
    )
}

/// Whether `provider` takes a `scope` for what it mints (Google and Azure tokens).
pub fn takes_scope(provider: &ProviderSpec) -> bool {
    matches!(provider.auth, Some(AuthSpec::GoogleServiceAccount | AuthSpec::AzureClientCredentials))
}
