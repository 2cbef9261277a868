//! What the proxy keeps: virtual keys with their own exact monthly limits, and the
//! tokens providers report, per credential and per virtual key. A separate trait (a
//! supertrait of [`crate::Store`]) so the proxy's storage stays in one place.

use async_trait::async_trait;
use byok_core::{
    AuditRecord, Credential, CredentialId, Owner, ProviderId, Timestamp, TokenId, VirtualKey, VirtualKeyUsage,
};

use crate::StoreError;

/// Tokens reported for one credential's proxied requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialTokens {
    pub credential_id: CredentialId,
    pub tokens_total: i64,
    /// Tokens in the period starting at `period_start`.
    pub tokens_period: i64,
    pub period_start: Timestamp,
}

/// What a virtual key's finished requests add to its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualKeyDelta {
    pub token_id: TokenId,
    /// Requests not counted when they started (keys without a limit are counted here).
    pub requests: i64,
    pub tokens: i64,
}

/// Counts gathered from finished proxied requests, written together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyUsage {
    /// Requests of credentials without a monthly limit, counted after the fact.
    pub credential_requests: Vec<(CredentialId, i64)>,
    /// Tokens per credential.
    pub credential_tokens: Vec<(CredentialId, i64)>,
    pub virtual_keys: Vec<VirtualKeyDelta>,
}

#[async_trait]
pub trait ProxyStore: Send + Sync + 'static {
    async fn virtual_key(&self, token_id: &TokenId) -> Result<Option<VirtualKey>, StoreError>;
    async fn virtual_key_usage(
        &self,
        token_id: &TokenId,
        period: Timestamp,
    ) -> Result<Option<VirtualKeyUsage>, StoreError>;
    /// Takes one request from a virtual key's monthly limit with one conditional
    /// `UPDATE` (a key still in an older period starts `period` at zero): never more
    /// than the limit, on any number of instances. False when the limit is reached.
    async fn take_virtual_unit(
        &self,
        token_id: &TokenId,
        period: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Gives back a unit taken in `period` for a request refused before it reached
    /// the provider.
    async fn return_virtual_unit(&self, token_id: &TokenId, period: Timestamp) -> Result<(), StoreError>;
    /// Takes one unit of this credential's monthly limit, in the period starting at
    /// `period`, with one conditional `UPDATE` (for a request sent again with the next
    /// key of a tier). False when it is disabled, failing, at its limit or still in an
    /// older period.
    async fn take_unit_of(&self, id: &CredentialId, period: Timestamp, now: Timestamp) -> Result<bool, StoreError>;
    /// Gives back a unit of this credential's monthly limit taken in `period` for a
    /// request that did not go out.
    async fn return_unit_of(&self, id: &CredentialId, period: Timestamp) -> Result<(), StoreError>;
    /// Leases units of `subject`'s per-minute `limit` in the minute starting at
    /// `window_start` (milliseconds): an eighth of what is left, at least one, with one
    /// conditional upsert of the minute's row, so instances together never lease more
    /// than the limit. 0 when the minute's units are all leased. Rows of older minutes
    /// of `subject` are removed.
    async fn lease_minute_units(&self, subject: &str, window_start: i64, limit: i64) -> Result<i64, StoreError>;
    /// The credential [`crate::Store::take_unit`] would pick for `owner` and `provider`
    /// in the period starting at `period`, if it has no monthly limit: no limit can be
    /// overrun, so its request is counted afterwards (with `record_proxy_usage`) instead
    /// of taking a unit first. `None` when the pick has a limit, needs its period rolled
    /// over, or there is none: then `take_unit` decides.
    async fn unlimited_pick(
        &self,
        owner: &Owner,
        provider: &ProviderId,
        period: Timestamp,
    ) -> Result<Option<Credential>, StoreError>;
    /// Adds finished requests' counts in one transaction; counters of an older period
    /// start `period` afresh. Credentials or keys deleted meanwhile are skipped.
    async fn record_proxy_usage(&self, usage: &ProxyUsage, period: Timestamp, now: Timestamp)
    -> Result<(), StoreError>;
    /// Appends `records` (entries of uses without a limit, in chain order) and adds the
    /// requests they count in one transaction: the entries and their counts are written
    /// together or not at all, so entries committed once after a crash are counted once.
    async fn append_counted_audit(
        &self,
        records: &[AuditRecord],
        usage: &ProxyUsage,
        period: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// The token counters of these credentials (those that have any).
    async fn credential_tokens(&self, ids: &[CredentialId]) -> Result<Vec<CredentialTokens>, StoreError>;
}
