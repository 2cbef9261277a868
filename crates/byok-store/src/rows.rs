//! Rows as both engines return them (text ids, integer milliseconds, JSON text) and
//! their conversion to and from domain values; each engine reads its rows into these
//! (`sqlite/rows.rs`, `postgres/rows.rs`).

use std::collections::BTreeMap;

use byok_core::{Credential, Label, OrgId, Owner, ProviderId, Timestamp, Token};

use crate::StoreError;

/// The columns of [`CredentialRow`], in its order.
pub(crate) const CREDENTIAL_COLUMNS: &str = "id, owner, provider, label, config, secret_hints, key_id, sealed, status, \
     status_message, last_tested_at, last_used_at, enabled, priority, monthly_limit, usage_total, usage_period, \
     period_start, version, revision, created_at, updated_at, verifying_since, monthly_token_limit, rate_limit_per_minute";

pub(crate) struct CredentialRow {
    pub id: String,
    pub owner: String,
    pub provider: String,
    pub label: String,
    pub config: String,
    pub secret_hints: String,
    pub key_id: String,
    pub sealed: Vec<u8>,
    pub status: String,
    pub status_message: Option<String>,
    pub last_tested_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub enabled: bool,
    pub priority: i64,
    pub monthly_limit: Option<i64>,
    pub usage_total: i64,
    pub usage_period: i64,
    pub period_start: i64,
    pub version: i64,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub verifying_since: Option<i64>,
    pub monthly_token_limit: Option<i64>,
    pub rate_limit_per_minute: Option<i64>,
}

/// The columns of [`TokenRow`], in its order.
pub(crate) const TOKEN_COLUMNS: &str = "id, hash, role, owner, manage_orgs, name, created_at, expires_at, revoked_at";

pub(crate) struct TokenRow {
    pub id: String,
    pub hash: Vec<u8>,
    pub role: String,
    pub owner: Option<String>,
    pub manage_orgs: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

fn corrupt(what: &str) -> impl FnOnce(String) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn json_map(s: &str) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt("json column")(e.to_string()))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("maps and lists of strings serialise")
}

impl TryFrom<CredentialRow> for Credential {
    type Error = StoreError;

    fn try_from(r: CredentialRow) -> Result<Self, StoreError> {
        Ok(Credential {
            id: r.id.parse().map_err(|e: byok_core::DomainError| corrupt("credential id")(e.to_string()))?,
            owner: r.owner.parse().map_err(|e: byok_core::DomainError| corrupt("owner")(e.to_string()))?,
            provider: ProviderId::parse(&r.provider).map_err(|e| corrupt("provider")(e.to_string()))?,
            label: Label::parse(&r.label).map_err(|e| corrupt("label")(e.to_string()))?,
            config: json_map(&r.config)?,
            secret_hints: json_map(&r.secret_hints)?,
            key_id: r.key_id,
            sealed: r.sealed,
            status: r.status.parse().map_err(|e: byok_core::DomainError| corrupt("status")(e.to_string()))?,
            status_message: r.status_message,
            last_tested_at: r.last_tested_at.map(Timestamp::from_millis),
            last_used_at: r.last_used_at.map(Timestamp::from_millis),
            enabled: r.enabled,
            priority: r.priority,
            monthly_limit: r.monthly_limit,
            monthly_token_limit: r.monthly_token_limit,
            rate_limit_per_minute: r.rate_limit_per_minute,
            usage_total: r.usage_total,
            usage_period: r.usage_period,
            period_start: Timestamp::from_millis(r.period_start),
            version: r.version,
            revision: r.revision,
            created_at: Timestamp::from_millis(r.created_at),
            updated_at: Timestamp::from_millis(r.updated_at),
            verifying_since: r.verifying_since.map(Timestamp::from_millis),
        })
    }
}

impl TryFrom<TokenRow> for Token {
    type Error = StoreError;

    fn try_from(r: TokenRow) -> Result<Self, StoreError> {
        let orgs: Vec<String> =
            serde_json::from_str(&r.manage_orgs).map_err(|e| corrupt("manage_orgs")(e.to_string()))?;
        Ok(Token {
            id: r.id.parse().map_err(|e: byok_core::DomainError| corrupt("token id")(e.to_string()))?,
            hash: r.hash,
            role: r.role.parse().map_err(|e: byok_core::DomainError| corrupt("role")(e.to_string()))?,
            owner: r
                .owner
                .map(|o| o.parse::<Owner>())
                .transpose()
                .map_err(|e| corrupt("token owner")(e.to_string()))?,
            manage_orgs: orgs
                .iter()
                .map(|o| OrgId::parse(o))
                .collect::<Result<_, _>>()
                .map_err(|e| corrupt("manage_orgs")(e.to_string()))?,
            name: r.name,
            created_at: Timestamp::from_millis(r.created_at),
            expires_at: r.expires_at.map(Timestamp::from_millis),
            revoked_at: r.revoked_at.map(Timestamp::from_millis),
        })
    }
}

/// A `credential_versions` row as (credential_id, version, key_id, sealed, hints, created_at).
pub(crate) type VersionRow = (String, i64, String, Vec<u8>, String, i64);

/// The columns of a [`VersionRow`], in its order.
pub(crate) const VERSION_COLUMNS: &str = "credential_id, version, key_id, sealed, secret_hints, created_at";

pub(crate) fn version_from_row(
    (id, version, key_id, sealed, hints, created_at): VersionRow,
) -> Result<crate::SecretVersion, StoreError> {
    Ok(crate::SecretVersion {
        credential_id: id
            .parse()
            .map_err(|e: byok_core::DomainError| corrupt("version credential id")(e.to_string()))?,
        version,
        key_id,
        sealed,
        secret_hints: json_map(&hints)?,
        created_at: Timestamp::from_millis(created_at),
    })
}
