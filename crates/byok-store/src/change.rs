//! A change to what byok keeps that is committed together with its audit entries, in
//! one transaction: an entry never stands without its change, nor a change without
//! its entry.

use byok_core::{Credential, CredentialId, OrgId, Timestamp, Token, TokenId, VirtualKey};

#[derive(Debug, Clone)]
pub enum Change {
    /// A new credential with its first secret version.
    InsertCredential(Credential),
    /// Writes the changeable columns of `credential` if its `revision` is still the
    /// stored one, and bumps the revision. With `new_version`, its secret is also
    /// recorded as a version and versions older than the newest `keep + 1` are
    /// dropped. Not applied when someone else changed it first.
    UpdateCredential { credential: Credential, new_version: bool, keep: u32 },
    /// A credential, its versions and its usage history. Not applied when it is gone.
    DeleteCredential(CredentialId),
    /// A token; with `sign_in_link_until`, one that may sign a browser into the
    /// settings page from another site once, until then.
    InsertToken { token: Token, sign_in_link_until: Option<Timestamp> },
    /// A virtual key: its token row and its scope, counters at zero in the period
    /// starting at `period`.
    InsertVirtualKey { token: Token, key: VirtualKey, period: Timestamp },
    /// Marks a token revoked and bumps the token epoch. Not applied when it is
    /// missing or already revoked.
    RevokeToken { id: TokenId, now: Timestamp },
    /// Whether members of `org` may fall back to platform credentials.
    SetOrgPolicy { org: OrgId, allow_platform: bool, short_lived_only: bool, now: Timestamp },
    /// A webhook endpoint with its subscriptions.
    InsertWebhook(crate::Webhook),
    /// An endpoint with its subscriptions and deliveries. Not applied when it is gone.
    DeleteWebhook(String),
    /// Stops deliveries to an endpoint (kept, to be retried). Not applied when it is
    /// gone or already disabled.
    DisableWebhook { id: String, now: Timestamp },
}

impl Change {
    /// Whether the change can alter which credential a request is served with (the
    /// credential epoch moves with it).
    pub(crate) fn moves_credential_epoch(&self) -> bool {
        matches!(
            self,
            Change::InsertCredential(_)
                | Change::UpdateCredential { .. }
                | Change::DeleteCredential(_)
                | Change::SetOrgPolicy { .. }
        )
    }
}
