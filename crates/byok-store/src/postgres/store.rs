//! [`Store`] on PostgreSQL: each method runs its statements (in the modules by subject)
//! on a pooled connection, or hands its write to the metering writer.

use std::sync::Arc;

use async_trait::async_trait;
use byok_core::{
    AuditEvent, AuditRecord, Credential, CredentialId, OrgId, Owner, ProviderId, Status, Timestamp, Token, TokenId,
    WebhookEvent,
};

use super::tokens::Policy;
use super::{PgStore, audit, change, credentials, keys, tokens};
use crate::shared_sql::Epoch;
use crate::{
    AuditFilter, Chainer, Change, CredentialFilter, KeyCheckRecord, PrunedHead, Reseal, SealedItem, SecretVersion,
    Store, StoreError, TierState, TokenFilter, UsagePeriod,
};

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.execute(&client.prepare_cached("SELECT 1").await?, &[]).await?;
        Ok(())
    }

    async fn key_checks(&self) -> Result<Vec<KeyCheckRecord>, StoreError> {
        keys::checks(&self.client().await?).await
    }

    async fn insert_key_check(&self, check: &KeyCheckRecord, now: Timestamp) -> Result<(), StoreError> {
        keys::insert_check(&self.client().await?, check, now).await
    }

    async fn sealed_key_ids(&self) -> Result<Vec<String>, StoreError> {
        keys::sealed_key_ids(&self.client().await?).await
    }

    async fn take_sign_in_link(&self, token_hash: &[u8], now: Timestamp) -> Result<bool, StoreError> {
        tokens::take_sign_in_link(&self.client().await?, token_hash, now).await
    }

    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<Token>, StoreError> {
        tokens::by_hash(&self.client().await?, hash).await
    }

    async fn get_token(&self, id: &TokenId) -> Result<Option<Token>, StoreError> {
        tokens::by_id(&self.client().await?, &id.to_string()).await
    }

    async fn list_tokens(&self, filter: &TokenFilter) -> Result<Vec<Token>, StoreError> {
        tokens::list(&self.client().await?, filter).await
    }

    async fn token_epoch(&self) -> Result<i64, StoreError> {
        tokens::epoch(&self.client().await?, Epoch::Token).await
    }

    async fn credential_epoch(&self) -> Result<i64, StoreError> {
        tokens::epoch(&self.client().await?, Epoch::Credential).await
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
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        change::insert_credentials(&tx, credentials).await?;
        tx.commit().await?;
        self.note_credential_change();
        Ok(())
    }

    async fn commit_change(
        &self,
        change: &Change,
        records: &[AuditRecord],
        events: &[WebhookEvent],
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !change::apply(&tx, change).await? {
            return Ok(false);
        }
        change::insert_audit(&tx, records).await?;
        change::insert_events(&tx, events).await?;
        tx.commit().await?;
        if change.moves_credential_epoch() {
            self.note_credential_change();
        }
        Ok(true)
    }

    async fn get_credential(&self, id: &CredentialId) -> Result<Option<Credential>, StoreError> {
        credentials::get(&self.client().await?, &id.to_string()).await
    }

    async fn list_credentials(&self, filter: &CredentialFilter) -> Result<Vec<Credential>, StoreError> {
        credentials::list(&self.client().await?, filter).await
    }

    async fn credential_versions(&self, id: &CredentialId) -> Result<Vec<SecretVersion>, StoreError> {
        credentials::versions(&self.client().await?, &id.to_string()).await
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
        credentials::tier_state(&self.client().await?, owner, provider, period).await
    }

    async fn roll_over(&self, owner: &Owner, provider: &ProviderId, period: Timestamp) -> Result<(), StoreError> {
        credentials::roll_over(&mut self.client().await?, owner, provider, period).await?;
        self.note_credential_change();
        Ok(())
    }

    async fn usage_history(&self, ids: &[CredentialId]) -> Result<Vec<UsagePeriod>, StoreError> {
        credentials::usage_history(&self.client().await?, ids).await
    }

    async fn mark_verifying(&self, id: &CredentialId, version: i64, since: Timestamp) -> Result<bool, StoreError> {
        credentials::mark_verifying(&self.client().await?, &id.to_string(), version, since).await
    }

    async fn end_verifying(&self, id: &CredentialId, version: i64, since: Timestamp) -> Result<(), StoreError> {
        credentials::end_verifying(&self.client().await?, &id.to_string(), version, since).await
    }

    async fn record_test(
        &self,
        id: &CredentialId,
        version: i64,
        status: Option<Status>,
        message: Option<&str>,
        tested_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let recorded =
            credentials::record_test(&mut client, &id.to_string(), version, status, message, tested_at).await?;
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
        credentials::due_for_retest(&self.client().await?, before, stale_before, limit).await
    }

    async fn mark_failing(&self, id: &CredentialId, message: &str, now: Timestamp) -> Result<(), StoreError> {
        if credentials::mark_failing(&mut self.client().await?, &id.to_string(), message, now).await? {
            self.note_credential_change();
        }
        Ok(())
    }

    async fn audit_key(&self) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        audit::key(&self.client().await?).await
    }

    async fn insert_audit_key(&self, key_id: &str, sealed: &[u8]) -> Result<(), StoreError> {
        audit::insert_key(&self.client().await?, key_id, sealed).await
    }

    async fn start_audit_chain(&self, genesis: &AuditRecord) -> Result<(), StoreError> {
        audit::start_chain(&mut self.client().await?, genesis).await
    }

    async fn append_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        self.meter.append_audit(records.to_vec(), None).await
    }

    async fn audit_chains(&self) -> Result<Vec<String>, StoreError> {
        audit::chains(&self.client().await?).await
    }

    async fn audit_chain_entries(
        &self,
        chain: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        audit::chain_entries(&self.client().await?, chain, after_seq, limit).await
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        audit::list(&self.client().await?, filter).await
    }

    async fn audit_pruned_heads(&self) -> Result<Vec<PrunedHead>, StoreError> {
        audit::pruned_heads(&self.client().await?).await
    }

    async fn prune_audit(&self, heads: &[PrunedHead]) -> Result<u64, StoreError> {
        audit::prune(&mut self.client().await?, heads).await
    }

    async fn sealed_elsewhere(&self, primary: &str, limit: u32) -> Result<Vec<SealedItem>, StoreError> {
        keys::sealed_elsewhere(&self.client().await?, primary, limit).await
    }

    async fn reseal(&self, items: &[Reseal]) -> Result<u64, StoreError> {
        let written = keys::reseal(&mut self.client().await?, items).await?;
        self.note_credential_change();
        Ok(written)
    }

    async fn count_sealed_elsewhere(&self, primary: &str) -> Result<i64, StoreError> {
        keys::count_sealed_elsewhere(&self.client().await?, primary).await
    }

    async fn org_allows_platform(&self, org: &OrgId) -> Result<bool, StoreError> {
        Ok(tokens::org_policy(&self.client().await?, org, Policy::AllowPlatform).await?.unwrap_or(true))
    }

    async fn org_short_lived_only(&self, org: &OrgId) -> Result<bool, StoreError> {
        Ok(tokens::org_policy(&self.client().await?, org, Policy::ShortLivedOnly).await?.unwrap_or(false))
    }
}
