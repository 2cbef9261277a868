use async_trait::async_trait;
use byok_core::{Credential, CredentialId, Owner, ProviderId, Timestamp, Token, TokenId};

use crate::StoreError;

/// The stored key-check value of one master key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCheckRecord {
    pub key_id: String,
    pub check: Vec<u8>,
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
pub trait Store: Send + Sync + 'static {
    /// Is the database answering?
    async fn ping(&self) -> Result<(), StoreError>;

    async fn key_checks(&self) -> Result<Vec<KeyCheckRecord>, StoreError>;
    /// Records a key check unless one exists for that id already.
    async fn insert_key_check(
        &self,
        check: &KeyCheckRecord,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Key ids that some sealed row uses.
    async fn sealed_key_ids(&self) -> Result<Vec<String>, StoreError>;

    async fn insert_token(&self, token: &Token) -> Result<(), StoreError>;
    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<Token>, StoreError>;
    async fn get_token(&self, id: &TokenId) -> Result<Option<Token>, StoreError>;
    /// Marks a token revoked; false when it was missing or already revoked.
    async fn revoke_token(&self, id: &TokenId, now: Timestamp) -> Result<bool, StoreError>;

    async fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError>;
    async fn get_credential(&self, id: &CredentialId) -> Result<Option<Credential>, StoreError>;
    async fn list_credentials(
        &self,
        filter: &CredentialFilter,
    ) -> Result<Vec<Credential>, StoreError>;
    /// Writes the changeable columns of `credential` if its `revision` is still the
    /// stored one, and bumps the revision. False when someone else changed it first.
    async fn update_credential(&self, credential: &Credential) -> Result<bool, StoreError>;
    async fn delete_credential(&self, id: &CredentialId) -> Result<bool, StoreError>;
}
