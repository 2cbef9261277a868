//! Tokens, sign-in links, the epochs and org policies on SQLite.

use byok_core::{OrgId, Timestamp, Token};
use rusqlite::{Connection, OptionalExtension, params};

use super::query::Query;
use super::rows;
use crate::filters;
use crate::rows::TOKEN_COLUMNS;
use crate::shared_sql::Epoch;
use crate::{StoreError, TokenFilter};

pub(crate) fn take_sign_in_link(conn: &Connection, token_hash: &[u8], now: Timestamp) -> Result<bool, StoreError> {
    let done = conn
        .prepare_cached("DELETE FROM ui_sign_in_links WHERE token_hash = ?1 AND expires_at >= ?2")?
        .execute(params![token_hash, now.millis()])?;
    Ok(done == 1)
}

pub(crate) fn by_hash(conn: &Connection, hash: &[u8]) -> Result<Option<Token>, StoreError> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1");
    let row = conn.prepare_cached(&sql)?.query_row([hash], rows::token).optional()?;
    row.map(TryInto::try_into).transpose()
}

pub(crate) fn by_id(conn: &Connection, id: &str) -> Result<Option<Token>, StoreError> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1");
    let row = conn.prepare_cached(&sql)?.query_row([id], rows::token).optional()?;
    row.map(TryInto::try_into).transpose()
}

pub(crate) fn list(conn: &Connection, filter: &TokenFilter) -> Result<Vec<Token>, StoreError> {
    let mut q = Query::new(format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE true"));
    filters::tokens(&mut q, filter);
    q.rows(conn, rows::token)?.into_iter().map(TryInto::try_into).collect()
}

/// `token_epoch` or `credential_epoch`.
pub(crate) fn epoch(conn: &Connection, epoch: Epoch) -> Result<i64, StoreError> {
    Ok(conn.prepare_cached(epoch.select())?.query_row([], |r| r.get(0))?)
}

/// An org policy's column, when the org has a row.
pub(crate) fn org_policy(conn: &Connection, org: &OrgId, policy: Policy) -> Result<Option<bool>, StoreError> {
    let sql = match policy {
        Policy::AllowPlatform => "SELECT allow_platform_fallback FROM org_policies WHERE org = ?1",
        Policy::ShortLivedOnly => "SELECT short_lived_only FROM org_policies WHERE org = ?1",
    };
    Ok(conn.prepare_cached(sql)?.query_row([org.as_str()], |r| r.get(0)).optional()?)
}

pub(crate) enum Policy {
    AllowPlatform,
    ShortLivedOnly,
}
