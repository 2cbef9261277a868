//! Tokens, sign-in links, the epochs and org policies on PostgreSQL.

use byok_core::{OrgId, Timestamp, Token};
use deadpool_postgres::GenericClient;

use super::query::Query;
use super::rows;
use crate::filters;
use crate::rows::TOKEN_COLUMNS;
use crate::shared_sql::Epoch;
use crate::{StoreError, TokenFilter};

pub(crate) async fn take_sign_in_link(
    c: &impl GenericClient,
    token_hash: &[u8],
    now: Timestamp,
) -> Result<bool, StoreError> {
    let sql = "DELETE FROM ui_sign_in_links WHERE token_hash = $1 AND expires_at >= $2";
    Ok(c.execute(&c.prepare_cached(sql).await?, &[&token_hash, &now.millis()]).await? == 1)
}

pub(crate) async fn by_hash(c: &impl GenericClient, hash: &[u8]) -> Result<Option<Token>, StoreError> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1");
    let row = c.query_opt(&c.prepare_cached(&sql).await?, &[&hash]).await?;
    row.map(|r| rows::token(&r)?.try_into()).transpose()
}

pub(crate) async fn by_id(c: &impl GenericClient, id: &str) -> Result<Option<Token>, StoreError> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = $1");
    let row = c.query_opt(&c.prepare_cached(&sql).await?, &[&id]).await?;
    row.map(|r| rows::token(&r)?.try_into()).transpose()
}

pub(crate) async fn list(c: &impl GenericClient, filter: &TokenFilter) -> Result<Vec<Token>, StoreError> {
    let mut q = Query::new(format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE true"));
    filters::tokens(&mut q, filter);
    q.rows(c).await?.iter().map(|r| rows::token(r)?.try_into()).collect()
}

/// `token_epoch` or `credential_epoch`.
pub(crate) async fn epoch(c: &impl GenericClient, epoch: Epoch) -> Result<i64, StoreError> {
    Ok(c.query_one(&c.prepare_cached(epoch.select()).await?, &[]).await?.try_get(0)?)
}

/// An org policy's column, when the org has a row.
pub(crate) async fn org_policy(
    c: &impl GenericClient,
    org: &OrgId,
    policy: Policy,
) -> Result<Option<bool>, StoreError> {
    let sql = match policy {
        Policy::AllowPlatform => "SELECT allow_platform_fallback FROM org_policies WHERE org = $1",
        Policy::ShortLivedOnly => "SELECT short_lived_only FROM org_policies WHERE org = $1",
    };
    let row = c.query_opt(&c.prepare_cached(sql).await?, &[&org.as_str()]).await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

pub(crate) enum Policy {
    AllowPlatform,
    ShortLivedOnly,
}
