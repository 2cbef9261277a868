//! [`Store`] on SQLite: each method hands its statements (in the modules by subject) to
//! a reader connection, or its write to the writer thread.

use std::sync::Arc;

use async_trait::async_trait;
use byok_core::{
    AuditEvent, AuditRecord, Credential, CredentialId, OrgId, Owner, ProviderId, Status, Timestamp, Token, TokenId,
    WebhookEvent,
};
use rusqlite::TransactionBehavior;

use super::tokens::Policy;
use super::{SqliteStore, audit, change, credentials, keys, tokens};
use crate::shared_sql::Epoch;
use crate::{
    AuditFilter, Chainer, Change, CredentialFilter, KeyCheckRecord, PrunedHead, Reseal, SealedItem, SecretVersion,
    Store, StoreError, TierState, TokenFilter, UsagePeriod,
};

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.readers.run(|conn| Ok(conn.prepare_cached("SELECT 1")?.query_row([], |_| Ok(()))?)).await
    }

    async fn key_checks(&self) -> Result<Vec<KeyCheckRecord>, StoreError> {
        self.readers.run(|conn| keys::checks(conn)).await
    }

    async fn insert_key_check(&self, check: &KeyCheckRecord, now: Timestamp) -> Result<(), StoreError> {
        let check = check.clone();
        self.readers.run(move |conn| keys::insert_check(conn, &check, now)).await
    }

    async fn sealed_key_ids(&self) -> Result<Vec<String>, StoreError> {
        self.readers.run(|conn| keys::sealed_key_ids(conn)).await
    }

    async fn take_sign_in_link(&self, token_hash: &[u8], now: Timestamp) -> Result<bool, StoreError> {
        let hash = token_hash.to_vec();
        self.readers.run(move |conn| tokens::take_sign_in_link(conn, &hash, now)).await
    }

    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<Token>, StoreError> {
        let hash = hash.to_vec();
        self.readers.run(move |conn| tokens::by_hash(conn, &hash)).await
    }

    async fn get_token(&self, id: &TokenId) -> Result<Option<Token>, StoreError> {
        let id = id.to_string();
        self.readers.run(move |conn| tokens::by_id(conn, &id)).await
    }

    async fn list_tokens(&self, filter: &TokenFilter) -> Result<Vec<Token>, StoreError> {
        let filter = filter.clone();
        self.readers.run(move |conn| tokens::list(conn, &filter)).await
    }

    async fn token_epoch(&self) -> Result<i64, StoreError> {
        self.readers.run(|conn| tokens::epoch(conn, Epoch::Token)).await
    }

    async fn credential_epoch(&self) -> Result<i64, StoreError> {
        self.readers.run(|conn| tokens::epoch(conn, Epoch::Credential)).await
    }

    fn local_credential_changes(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError> {
        self.insert_credentials(std::slice::from_ref(credential)).await
    }

    async fn insert_credentials(&self, credentials: &[Credential]) -> Result<(), StoreError> {
        if credentials.is_empty() {
            return Ok(());
        }
        let credentials = credentials.to_vec();
        self.readers
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                change::insert_credentials(&tx, &credentials)?;
                Ok(tx.commit()?)
            })
            .await?;
        self.note_credential_change();
        Ok(())
    }

    async fn commit_change(
        &self,
        change: &Change,
        records: &[AuditRecord],
        events: &[WebhookEvent],
    ) -> Result<bool, StoreError> {
        let moves_epoch = change.moves_credential_epoch();
        let (change, records, events) = (change.clone(), records.to_vec(), events.to_vec());
        let applied = self
            .readers
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                if !change::apply(&tx, &change)? {
                    return Ok(false);
                }
                change::insert_audit(&tx, &records)?;
                change::insert_events(&tx, &events)?;
                tx.commit()?;
                Ok(true)
            })
            .await?;
        if applied && moves_epoch {
            self.note_credential_change();
        }
        Ok(applied)
    }

    async fn get_credential(&self, id: &CredentialId) -> Result<Option<Credential>, StoreError> {
        let id = id.to_string();
        self.readers.run(move |conn| credentials::get(conn, &id)).await
    }

    async fn list_credentials(&self, filter: &CredentialFilter) -> Result<Vec<Credential>, StoreError> {
        let filter = filter.clone();
        self.readers.run(move |conn| credentials::list(conn, &filter)).await
    }

    async fn credential_versions(&self, id: &CredentialId) -> Result<Vec<SecretVersion>, StoreError> {
        let id = id.to_string();
        self.readers.run(move |conn| credentials::versions(conn, &id)).await
    }

    async fn take_unit(
        &self,
        owner: &Owner,
        provider: &ProviderId,
        period: Timestamp,
        now: Timestamp,
        audit: Option<AuditEvent>,
    ) -> Result<Option<Credential>, StoreError> {
        let row = self
            .meter
            .take(owner.to_string(), provider.as_str().to_owned(), period.millis(), now.millis(), audit)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    fn attach_chainer(&self, chainer: Arc<dyn Chainer>) {
        self.meter.attach_chainer(chainer);
    }

    async fn tier_state(
        &self,
        owner: &Owner,
        provider: &ProviderId,
        period: Timestamp,
    ) -> Result<TierState, StoreError> {
        let (owner, provider) = (owner.clone(), provider.clone());
        self.readers.run(move |conn| credentials::tier_state(conn, &owner, &provider, period)).await
    }

    async fn roll_over(&self, owner: &Owner, provider: &ProviderId, period: Timestamp) -> Result<(), StoreError> {
        let (owner, provider) = (owner.clone(), provider.clone());
        self.readers.run(move |conn| credentials::roll_over(conn, &owner, &provider, period)).await?;
        self.note_credential_change();
        Ok(())
    }

    async fn usage_history(&self, ids: &[CredentialId]) -> Result<Vec<UsagePeriod>, StoreError> {
        let ids = ids.to_vec();
        self.readers.run(move |conn| credentials::usage_history(conn, &ids)).await
    }

    async fn mark_verifying(&self, id: &CredentialId, version: i64, since: Timestamp) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.readers.run(move |conn| credentials::mark_verifying(conn, &id, version, since)).await
    }

    async fn end_verifying(&self, id: &CredentialId, version: i64, since: Timestamp) -> Result<(), StoreError> {
        let id = id.to_string();
        self.readers.run(move |conn| credentials::end_verifying(conn, &id, version, since)).await
    }

    async fn record_test(
        &self,
        id: &CredentialId,
        version: i64,
        status: Option<Status>,
        message: Option<&str>,
        tested_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let (id, message) = (id.to_string(), message.map(str::to_owned));
        let recorded = self
            .readers
            .run(move |conn| credentials::record_test(conn, &id, version, status, message.as_deref(), tested_at))
            .await?;
        if recorded {
            self.note_credential_change();
        }
        Ok(recorded)
    }

    async fn due_for_retest(
        &self,
        before: Timestamp,
        stale_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<Credential>, StoreError> {
        self.readers.run(move |conn| credentials::due_for_retest(conn, before, stale_before, limit)).await
    }

    async fn mark_failing(&self, id: &CredentialId, message: &str, now: Timestamp) -> Result<(), StoreError> {
        let (id, message) = (id.to_string(), message.to_owned());
        if self.readers.run(move |conn| credentials::mark_failing(conn, &id, &message, now)).await? {
            self.note_credential_change();
        }
        Ok(())
    }

    async fn audit_key(&self) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        self.readers.run(|conn| audit::key(conn)).await
    }

    async fn insert_audit_key(&self, key_id: &str, sealed: &[u8]) -> Result<(), StoreError> {
        let (key_id, sealed) = (key_id.to_owned(), sealed.to_vec());
        self.readers.run(move |conn| audit::insert_key(conn, &key_id, &sealed)).await
    }

    async fn start_audit_chain(&self, genesis: &AuditRecord) -> Result<(), StoreError> {
        let genesis = genesis.clone();
        self.readers.run(move |conn| audit::start_chain(conn, &genesis)).await
    }

    async fn append_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        self.meter.append_audit(records.to_vec(), None).await
    }

    async fn audit_chains(&self) -> Result<Vec<String>, StoreError> {
        self.readers.run(|conn| audit::chains(conn)).await
    }

    async fn audit_chain_entries(
        &self,
        chain: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let chain = chain.to_owned();
        self.readers.run(move |conn| audit::chain_entries(conn, &chain, after_seq, limit)).await
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let filter = filter.clone();
        self.readers.run(move |conn| audit::list(conn, &filter)).await
    }

    async fn audit_pruned_heads(&self) -> Result<Vec<PrunedHead>, StoreError> {
        self.readers.run(|conn| audit::pruned_heads(conn)).await
    }

    async fn prune_audit(&self, heads: &[PrunedHead]) -> Result<u64, StoreError> {
        let heads = heads.to_vec();
        self.readers.run(move |conn| audit::prune(conn, &heads)).await
    }

    async fn sealed_elsewhere(&self, primary: &str, limit: u32) -> Result<Vec<SealedItem>, StoreError> {
        let primary = primary.to_owned();
        self.readers.run(move |conn| keys::sealed_elsewhere(conn, &primary, limit)).await
    }

    async fn reseal(&self, items: &[Reseal]) -> Result<u64, StoreError> {
        let items = items.to_vec();
        let written = self.readers.run(move |conn| keys::reseal(conn, &items)).await?;
        self.note_credential_change();
        Ok(written)
    }

    async fn count_sealed_elsewhere(&self, primary: &str) -> Result<i64, StoreError> {
        let primary = primary.to_owned();
        self.readers.run(move |conn| keys::count_sealed_elsewhere(conn, &primary)).await
    }

    async fn org_allows_platform(&self, org: &OrgId) -> Result<bool, StoreError> {
        let org = org.clone();
        let allow = self.readers.run(move |conn| tokens::org_policy(conn, &org, Policy::AllowPlatform)).await?;
        Ok(allow.unwrap_or(true))
    }

    async fn org_short_lived_only(&self, org: &OrgId) -> Result<bool, StoreError> {
        let org = org.clone();
        let only = self.readers.run(move |conn| tokens::org_policy(conn, &org, Policy::ShortLivedOnly)).await?;
        Ok(only.unwrap_or(false))
    }
}
