//! Credentials on SQLite: reads, usage periods and connection-test marks.

use byok_core::{Credential, CredentialId, Owner, ProviderId, Status, Timestamp, WebhookEvent};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::query::Query;
use super::{change, rows};
use crate::filters::{self, Statement};
use crate::rows::CREDENTIAL_COLUMNS;
use crate::{CredentialFilter, SecretVersion, StoreError, TierState, UsagePeriod};

/// How often a status update reads the credential again after a concurrent edit.
const MAX_STATUS_ROUNDS: usize = 8;

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<Credential>, StoreError> {
    let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = ?1");
    let row = conn.prepare_cached(&sql)?.query_row([id], rows::credential).optional()?;
    row.map(TryInto::try_into).transpose()
}

pub(crate) fn list(conn: &Connection, filter: &CredentialFilter) -> Result<Vec<Credential>, StoreError> {
    let mut q = Query::new(format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE true"));
    if !filters::credentials(&mut q, filter) {
        return Ok(Vec::new());
    }
    q.rows(conn, rows::credential)?.into_iter().map(TryInto::try_into).collect()
}

pub(crate) fn versions(conn: &Connection, id: &str) -> Result<Vec<SecretVersion>, StoreError> {
    let sql = format!(
        "SELECT {} FROM credential_versions WHERE credential_id = ?1 ORDER BY version DESC",
        crate::rows::VERSION_COLUMNS
    );
    let found = conn.prepare_cached(&sql)?.query_map([id], rows::version)?.collect::<Result<Vec<_>, _>>()?;
    found.into_iter().map(crate::rows::version_from_row).collect()
}

pub(crate) fn tier_state(
    conn: &Connection,
    owner: &Owner,
    provider: &ProviderId,
    period: Timestamp,
) -> Result<TierState, StoreError> {
    const SQL: &str = concat!(
        "SELECT count(*), ",
        "coalesce(sum(CASE WHEN enabled = TRUE AND status <> 'error' THEN 1 ELSE 0 END), 0), ",
        "coalesce(sum(CASE WHEN enabled = TRUE AND status <> 'error' AND period_start >= ?3 ",
        "AND ((monthly_limit IS NOT NULL AND usage_period >= monthly_limit) ",
        "OR (monthly_token_limit IS NOT NULL AND EXISTS (SELECT 1 FROM credential_tokens t ",
        "WHERE t.credential_id = credentials.id AND t.period_start >= ?3 ",
        "AND t.tokens_period >= monthly_token_limit))) THEN 1 ELSE 0 END), 0), ",
        "coalesce(sum(CASE WHEN enabled = TRUE AND status <> 'error' AND period_start < ?3 THEN 1 ELSE 0 END), 0) ",
        "FROM credentials WHERE owner = ?1 AND provider = ?2"
    );
    let state =
        conn.prepare_cached(SQL)?.query_row(params![owner.to_string(), provider.as_str(), period.millis()], |r| {
            Ok(TierState { total: r.get(0)?, usable: r.get(1)?, exhausted: r.get(2)?, stale: r.get(3)? })
        })?;
    Ok(state)
}

pub(crate) fn roll_over(
    conn: &mut Connection,
    owner: &Owner,
    provider: &ProviderId,
    period: Timestamp,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let args = params![owner.to_string(), provider.as_str(), period.millis()];
    tx.prepare_cached(concat!(
        "INSERT INTO usage_history (credential_id, period_start, requests) ",
        "SELECT id, period_start, usage_period FROM credentials ",
        "WHERE owner = ?1 AND provider = ?2 AND period_start < ?3 ",
        "ON CONFLICT (credential_id, period_start) DO NOTHING"
    ))?
    .execute(args)?;
    tx.prepare_cached(
        "UPDATE credentials SET period_start = ?3, usage_period = 0 WHERE owner = ?1 AND provider = ?2 AND period_start < ?3",
    )?
    .execute(args)?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn usage_history(conn: &Connection, ids: &[CredentialId]) -> Result<Vec<UsagePeriod>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query::new("SELECT credential_id, period_start, requests FROM usage_history WHERE credential_id");
    q.one_of(filters::ids(ids)).push(" ORDER BY credential_id, period_start DESC");
    let found = q.rows(conn, |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?;
    found
        .into_iter()
        .map(|(id, start, requests)| {
            let credential_id = id.parse().map_err(|_| StoreError::Corrupt("usage history id".into()))?;
            Ok(UsagePeriod { credential_id, period_start: Timestamp::from_millis(start), requests })
        })
        .collect()
}

pub(crate) fn mark_verifying(conn: &Connection, id: &str, version: i64, since: Timestamp) -> Result<bool, StoreError> {
    let done = conn
        .prepare_cached("UPDATE credentials SET verifying_since = ?1 WHERE id = ?2 AND version = ?3")?
        .execute(params![since.millis(), id, version])?;
    Ok(done == 1)
}

pub(crate) fn end_verifying(conn: &Connection, id: &str, version: i64, since: Timestamp) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE credentials SET verifying_since = NULL WHERE id = ?1 AND version = ?2 AND verifying_since = ?3",
    )?
    .execute(params![id, version, since.millis()])?;
    Ok(())
}

/// See [`crate::Store::record_test`]: guarded by the revision read, so the status change
/// announced is the one written; a concurrent edit makes it read again.
pub(crate) fn record_test(
    conn: &mut Connection,
    id: &str,
    version: i64,
    status: Option<Status>,
    message: Option<&str>,
    tested_at: Timestamp,
) -> Result<bool, StoreError> {
    for _ in 0..MAX_STATUS_ROUNDS {
        let Some(before) = get(conn, id)?.filter(|c| c.version == version) else {
            return Ok(false);
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done = tx
            .prepare_cached(concat!(
                "UPDATE credentials SET status = coalesce(?1, status), status_message = ?2, last_tested_at = ?3, ",
                "verifying_since = NULL, revision = revision + 1 WHERE id = ?4 AND version = ?5 AND revision = ?6"
            ))?
            .execute(params![status.map(|s| s.as_str()), message, tested_at.millis(), id, version, before.revision])?;
        if done == 0 {
            continue;
        }
        let after = Credential {
            status: status.unwrap_or(before.status),
            status_message: message.map(str::to_owned),
            ..before.clone()
        };
        change::insert_events(&tx, WebhookEvent::status_change(&before, &after, tested_at).iter())?;
        tx.commit()?;
        return Ok(true);
    }
    Err(StoreError::Conflict("the credential kept changing during its test"))
}

pub(crate) fn due_for_retest(
    conn: &Connection,
    before: Timestamp,
    stale_before: Timestamp,
    limit: u32,
) -> Result<Vec<Credential>, StoreError> {
    // Two statements, so each uses its partial index.
    let stale = format!(
        "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE verifying_since IS NOT NULL AND verifying_since < ?1 \
         AND enabled = TRUE ORDER BY verifying_since, id LIMIT ?2"
    );
    let mut found = conn
        .prepare_cached(&stale)?
        .query_map(params![stale_before.millis(), i64::from(limit)], rows::credential)?
        .collect::<Result<Vec<_>, _>>()?;
    let room = i64::from(limit) - found.len() as i64;
    if room > 0 {
        let due = format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE enabled = TRUE AND status IN ('connected', 'restricted') \
             AND (last_tested_at IS NULL OR last_tested_at < ?1) AND verifying_since IS NULL \
             ORDER BY last_tested_at, id LIMIT ?2"
        );
        let mut stmt = conn.prepare_cached(&due)?;
        for row in stmt.query_map(params![before.millis(), room], rows::credential)? {
            found.push(row?);
        }
    }
    found.into_iter().map(TryInto::try_into).collect()
}

/// Whether the mark was written (false when the credential is gone).
pub(crate) fn mark_failing(conn: &mut Connection, id: &str, message: &str, now: Timestamp) -> Result<bool, StoreError> {
    for _ in 0..MAX_STATUS_ROUNDS {
        let Some(before) = get(conn, id)? else { return Ok(false) };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done = tx
            .prepare_cached(concat!(
                "UPDATE credentials SET status = 'error', status_message = ?1, updated_at = ?2, ",
                "revision = revision + 1 WHERE id = ?3 AND revision = ?4"
            ))?
            .execute(params![message, now.millis(), id, before.revision])?;
        if done == 0 {
            continue;
        }
        let after = Credential { status: Status::Error, status_message: Some(message.to_owned()), ..before.clone() };
        change::insert_events(&tx, WebhookEvent::status_change(&before, &after, now).iter())?;
        tx.commit()?;
        return Ok(true);
    }
    Err(StoreError::Conflict("the credential kept changing"))
}
