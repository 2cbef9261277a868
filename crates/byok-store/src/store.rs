use async_trait::async_trait;
use byok_core::{
    AuditEvent, AuditRecord, Credential, CredentialId, OrgId, Owner, ProviderId, Role, Status, Timestamp, Token,
    TokenId, WebhookEvent,
};

use crate::{Change, ProxyStore, StoreError, WebhookStore};

/// The stored key-check value of one master key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCheckRecord {
    pub key_id: String,
    pub check: Vec<u8>,
}

/// What a tier holds for one provider, when no unit could be taken from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TierState {
    /// Credentials of this owner for the provider.
    pub total: i64,
    /// Enabled and not failing.
    pub usable: i64,
    /// Usable, but at their monthly limit in the current period.
    pub exhausted: i64,
    /// Usable, with counters still in a past period.
    pub stale: i64,
}

/// One closed usage period of a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsagePeriod {
    pub credential_id: CredentialId,
    pub period_start: Timestamp,
    pub requests: i64,
}

/// One sealed secret version of a credential.
#[derive(Debug, Clone)]
pub struct SecretVersion {
    pub credential_id: CredentialId,
    pub version: i64,
    pub key_id: String,
    pub sealed: Vec<u8>,
    pub secret_hints: std::collections::BTreeMap<String, String>,
    pub created_at: Timestamp,
}

/// Which audit entries a listing returns, in (time, chain, seq) order.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub owner: Option<String>,
    pub credential_id: Option<String>,
    pub action: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Start after this (at, chain, seq).
    pub after: Option<(i64, String, i64)>,
    pub limit: u32,
}

/// Where a pruned audit chain now starts: its last removed entry, and a MAC under the
/// audit key over (chain, seq, mac) that proves byok recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunedHead {
    pub chain: String,
    pub seq: i64,
    pub mac: Vec<u8>,
    pub attestation: Vec<u8>,
    pub pruned_at: Timestamp,
}

/// Which tokens a listing returns, by id, a page at a time.
#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    pub role: Option<Role>,
    pub owner: Option<Owner>,
    /// Start after this id (the previous page's last).
    pub after: Option<TokenId>,
    pub limit: u32,
}

/// A row sealed under a key other than the primary, for re-sealing.
#[derive(Debug, Clone)]
pub enum SealedItem {
    /// A credential's current secret (also kept as its newest version).
    Credential(Credential),
    /// An older version of a credential's secret, with its credential for the binding.
    Version { credential: Credential, version: SecretVersion },
    /// The audit MAC key.
    AuditKey { key_id: String, sealed: Vec<u8> },
    /// A webhook endpoint's signing secret.
    WebhookSecret { id: String, sealed: Vec<u8> },
}

/// A re-sealed envelope to write if the row still holds `old`.
#[derive(Debug, Clone)]
pub struct Reseal {
    pub target: ResealTarget,
    pub old: Vec<u8>,
    pub key_id: String,
    pub sealed: Vec<u8>,
}

#[derive(Debug, Clone)]
pub enum ResealTarget {
    Credential(CredentialId),
    Version(CredentialId, i64),
    AuditKey,
    WebhookSecret(String),
}

/// Places audit events in a chain: implemented where the audit MAC key lives, handed
/// to the store so that the write worker can chain the entries it writes together with
/// the units they record (one transaction, one commit).
pub trait Chainer: Send + Sync + 'static {
    /// The first record of a new chain.
    fn genesis(&self) -> AuditRecord;
    /// Records for `events`, following `previous` (the chain's last record).
    fn extend(&self, previous: &AuditRecord, events: Vec<AuditEvent>) -> Vec<AuditRecord>;
}

/// Which credentials a listing returns, oldest first, a page at a time.
#[derive(Debug, Clone)]
pub struct CredentialFilter {
    /// Only these owners; an empty list matches nothing.
    pub owners: Option<Vec<Owner>>,
    pub provider: Option<ProviderId>,
    /// Leave out platform credentials (for principals that may not see them).
    pub exclude_platform: bool,
    /// Start after this id (the previous page's last).
    pub after: Option<CredentialId>,
    pub limit: u32,
}

#[async_trait]
pub trait Store: ProxyStore + WebhookStore + Send + Sync + 'static {
    /// Is the database answering?
    async fn ping(&self) -> Result<(), StoreError>;

    async fn key_checks(&self) -> Result<Vec<KeyCheckRecord>, StoreError>;
    /// Records a key check unless one exists for that id already.
    async fn insert_key_check(&self, check: &KeyCheckRecord, now: Timestamp) -> Result<(), StoreError>;
    /// Key ids that some sealed row uses.
    async fn sealed_key_ids(&self) -> Result<Vec<String>, StoreError>;

    /// Takes the sign-in link of the token with this hash: true once, while unexpired.
    async fn take_sign_in_link(&self, token_hash: &[u8], now: Timestamp) -> Result<bool, StoreError>;
    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<Token>, StoreError>;
    async fn get_token(&self, id: &TokenId) -> Result<Option<Token>, StoreError>;
    /// Tokens (virtual keys included) by id, revoked and expired ones too.
    async fn list_tokens(&self, filter: &TokenFilter) -> Result<Vec<Token>, StoreError>;
    /// A number that changes whenever any token is revoked.
    async fn token_epoch(&self) -> Result<i64, StoreError>;
    /// A number that changes, in the same transaction, with every change on any
    /// instance that can alter which credential a request is served with or whether
    /// an org allows platform keys (not with usage counters).
    async fn credential_epoch(&self) -> Result<i64, StoreError>;
    /// How many such changes this store handle has committed: it moves as soon as the
    /// change is made, where other instances see the epoch move on their next poll.
    fn local_credential_changes(&self) -> u64;

    async fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError>;
    /// Inserts credentials (each with its first version) in one transaction: all are
    /// written or none.
    async fn insert_credentials(&self, credentials: &[Credential]) -> Result<(), StoreError>;
    /// Applies `change`, appends `records` (its audit entries, chained) and puts
    /// `events` into the webhook outbox, in one transaction. False, with nothing
    /// written, when the change did not apply.
    async fn commit_change(
        &self,
        change: &Change,
        records: &[AuditRecord],
        events: &[WebhookEvent],
    ) -> Result<bool, StoreError>;
    async fn get_credential(&self, id: &CredentialId) -> Result<Option<Credential>, StoreError>;
    async fn list_credentials(&self, filter: &CredentialFilter) -> Result<Vec<Credential>, StoreError>;
    /// A credential's secret versions, newest first (metadata and envelopes).
    async fn credential_versions(&self, id: &CredentialId) -> Result<Vec<SecretVersion>, StoreError>;
    /// Takes one unit of quota from `owner`'s best usable credential for `provider`
    /// (lowest priority value first) in the period starting at `period`, with one
    /// conditional `UPDATE`: never more than a limit allows, on any number of
    /// instances. `None` when no credential could give one.
    ///
    /// With `audit`, an entry for the granted credential (owner, credential and
    /// provider filled in) is written in the same transaction as the unit, chained by
    /// the attached [`Chainer`].
    async fn take_unit(
        &self,
        owner: &Owner,
        provider: &ProviderId,
        period: Timestamp,
        now: Timestamp,
        audit: Option<AuditEvent>,
    ) -> Result<Option<Credential>, StoreError>;
    /// Attaches the chainer that audited takes use.
    fn attach_chainer(&self, chainer: std::sync::Arc<dyn Chainer>);
    /// Why `take_unit` found nothing.
    async fn tier_state(
        &self,
        owner: &Owner,
        provider: &ProviderId,
        period: Timestamp,
    ) -> Result<TierState, StoreError>;
    /// Closes past periods of `owner`'s credentials for `provider`: records them in the
    /// history and starts `period` at zero. Idempotent, one transaction.
    async fn roll_over(&self, owner: &Owner, provider: &ProviderId, period: Timestamp) -> Result<(), StoreError>;
    /// Closed periods of these credentials, newest first.
    async fn usage_history(&self, ids: &[CredentialId]) -> Result<Vec<UsagePeriod>, StoreError>;
    /// Marks a test of the secret at `version` as running since `since` (the API shows
    /// `verifying`). False when the secret changed or the credential is gone.
    async fn mark_verifying(&self, id: &CredentialId, version: i64, since: Timestamp) -> Result<bool, StoreError>;
    /// Clears the mark a test set at `since`, when it recorded nothing (the provider was
    /// unavailable); a mark of another test is left alone.
    async fn end_verifying(&self, id: &CredentialId, version: i64, since: Timestamp) -> Result<(), StoreError>;
    /// Records a connection test's result, and clears the test mark, if the
    /// credential's secret is still at `version` (a test of an older secret must not
    /// label a newer one). `status: None` keeps the status. False when the credential
    /// changed or is gone.
    async fn record_test(
        &self,
        id: &CredentialId,
        version: i64,
        status: Option<Status>,
        message: Option<&str>,
        tested_at: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Enabled credentials whose test mark is older than `stale_before` (a test that
    /// never finished: the instance stopped mid-test), then those whose last good test
    /// is older than `before` (or that never had one while connected), oldest first.
    async fn due_for_retest(
        &self,
        before: Timestamp,
        stale_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<Credential>, StoreError>;
    /// Marks a credential failing with a message (e.g. its secret did not open).
    async fn mark_failing(&self, id: &CredentialId, message: &str, now: Timestamp) -> Result<(), StoreError>;

    /// The sealed audit MAC key, if one was created.
    async fn audit_key(&self) -> Result<Option<(String, Vec<u8>)>, StoreError>;
    /// Stores the sealed audit MAC key unless one exists (the first instance wins).
    async fn insert_audit_key(&self, key_id: &str, sealed: &[u8]) -> Result<(), StoreError>;
    /// Registers a new chain with its first entry, in one transaction: a chain is never
    /// registered without an entry.
    async fn start_audit_chain(&self, genesis: &AuditRecord) -> Result<(), StoreError>;
    /// Appends entries in one transaction: all are written or none.
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError>;
    async fn audit_chains(&self) -> Result<Vec<String>, StoreError>;
    /// Entries of one chain after `after_seq`, by sequence number.
    async fn audit_chain_entries(
        &self,
        chain: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;
    /// The recorded start of every pruned chain.
    async fn audit_pruned_heads(&self) -> Result<Vec<PrunedHead>, StoreError>;
    /// Removes each head's chain's entries up to its seq and records the head (only
    /// forward), in one transaction. Returns how many entries were removed.
    async fn prune_audit(&self, heads: &[PrunedHead]) -> Result<u64, StoreError>;

    /// Up to `limit` rows sealed under a key other than `primary`.
    async fn sealed_elsewhere(&self, primary: &str, limit: u32) -> Result<Vec<SealedItem>, StoreError>;
    /// Writes re-sealed envelopes in one transaction, each only if its row still holds
    /// the envelope it was made from. Returns how many were written.
    async fn reseal(&self, items: &[Reseal]) -> Result<u64, StoreError>;
    /// How many rows are sealed under a key other than `primary`.
    async fn count_sealed_elsewhere(&self, primary: &str) -> Result<i64, StoreError>;

    /// Whether members of `org` may fall back to platform credentials (default yes).
    async fn org_allows_platform(&self, org: &OrgId) -> Result<bool, StoreError>;

    /// Whether `org`'s cloud credentials may leave only as short-lived ones (default no).
    async fn org_short_lived_only(&self, org: &OrgId) -> Result<bool, StoreError>;
}
