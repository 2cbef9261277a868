//! Credentials on PostgreSQL: reads, usage periods and connection-test marks.

use byok_core::{Credential, CredentialId, Owner, ProviderId, Status, Timestamp, WebhookEvent};
use deadpool_postgres::GenericClient;

use super::query::Query;
use super::{Client, change, rows};
use crate::filters;
use crate::rows::CREDENTIAL_COLUMNS;
use crate::{CredentialFilter, SecretVersion, StoreError, TierState, UsagePeriod};

/// How often a status update reads the credential again after a concurrent edit.
const MAX_STATUS_ROUNDS: usize = 8;

pub(crate) async fn get(c: &impl GenericClient, id: &str) -> Result<Option<Credential>, StoreError> {
    let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1");
    let row = c.query_opt(&c.prepare_cached(&sql).await?, &[&id]).await?;
    row.map(|r| rows::credential(&r)?.try_into()).transpose()
}

pub(crate) async fn list(c: &impl GenericClient, filter: &CredentialFilter) -> Result<Vec<Credential>, StoreError> {
    let mut q = Query::new(format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE true"));
    if !filters::credentials(&mut q, filter) {
        return Ok(Vec::new());
    }
    q.rows(c).await?.iter().map(|r| rows::credential(r)?.try_into()).collect()
}

pub(crate) async fn versions(c: &impl GenericClient, id: &str) -> Result<Vec<SecretVersion>, StoreError> {
    let sql = format!(
        "SELECT {} FROM credential_versions WHERE credential_id = $1 ORDER BY version DESC",
        crate::rows::VERSION_COLUMNS
    );
    let found = c.query(&c.prepare_cached(&sql).await?, &[&id]).await?;
    found.iter().map(|r| crate::rows::version_from_row(rows::version(r)?)).collect()
}

pub(crate) async fn tier_state(
    c: &impl GenericClient,
    owner: &Owner,
    provider: &ProviderId,
    period: Timestamp,
) -> Result<TierState, StoreError> {
    const SQL: &str = concat!(
        "SELECT count(*), ",
        "coalesce(sum(CASE WHEN enabled = TRUE AND status <> 'error' THEN 1 ELSE 0 END), 0), ",
        "coalesce(sum(CASE WHEN enabled = TRUE AND status <> 'error' AND period_start >= $3 ",
        "AND ((monthly_limit IS NOT NULL AND usage_period >= monthly_limit) ",
        "OR (monthly_token_limit IS NOT NULL AND EXISTS (SELECT 1 FROM credential_tokens t ",
        "WHERE t.credential_id = credentials.id AND t.period_start >= $3 ",
        "AND t.tokens_period >= monthly_token_limit))) THEN 1 ELSE 0 END), 0), ",
        "coalesce(sum(CASE WHEN enabled = TRUE AND status <> 'error' AND period_start < $3 THEN 1 ELSE 0 END), 0) ",
        "FROM credentials WHERE owner = $1 AND provider = $2"
    );
    let r =
        c.query_one(&c.prepare_cached(SQL).await?, &[&owner.to_string(), &provider.as_str(), &period.millis()]).await?;
    Ok(TierState { total: r.try_get(0)?, usable: r.try_get(1)?, exhausted: r.try_get(2)?, stale: r.try_get(3)? })
}

pub(crate) async fn roll_over(
    client: &mut Client,
    owner: &Owner,
    provider: &ProviderId,
    period: Timestamp,
) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    let (owner, provider, period) = (owner.to_string(), provider.as_str(), period.millis());
    let insert = tx
        .prepare_cached(concat!(
            "INSERT INTO usage_history (credential_id, period_start, requests) ",
            "SELECT id, period_start, usage_period FROM credentials ",
            "WHERE owner = $1 AND provider = $2 AND period_start < $3 ",
            "ON CONFLICT (credential_id, period_start) DO NOTHING"
        ))
        .await?;
    tx.execute(&insert, &[&owner, &provider, &period]).await?;
    let reset = tx
        .prepare_cached(
            "UPDATE credentials SET period_start = $3, usage_period = 0 WHERE owner = $1 AND provider = $2 AND period_start < $3",
        )
        .await?;
    tx.execute(&reset, &[&owner, &provider, &period]).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn usage_history(
    c: &impl GenericClient,
    ids: &[CredentialId],
) -> Result<Vec<UsagePeriod>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = filters::ids(ids);
    let sql = "SELECT credential_id, period_start, requests FROM usage_history WHERE credential_id = ANY($1) \
               ORDER BY credential_id, period_start DESC";
    let found = c.query(&c.prepare_cached(sql).await?, &[&ids]).await?;
    found
        .iter()
        .map(|r| {
            let id: String = r.try_get(0)?;
            let credential_id = id.parse().map_err(|_| StoreError::Corrupt("usage history id".into()))?;
            Ok(UsagePeriod {
                credential_id,
                period_start: Timestamp::from_millis(r.try_get(1)?),
                requests: r.try_get(2)?,
            })
        })
        .collect()
}

pub(crate) async fn mark_verifying(
    c: &impl GenericClient,
    id: &str,
    version: i64,
    since: Timestamp,
) -> Result<bool, StoreError> {
    let sql = "UPDATE credentials SET verifying_since = $1 WHERE id = $2 AND version = $3";
    Ok(c.execute(&c.prepare_cached(sql).await?, &[&since.millis(), &id, &version]).await? == 1)
}

pub(crate) async fn end_verifying(
    c: &impl GenericClient,
    id: &str,
    version: i64,
    since: Timestamp,
) -> Result<(), StoreError> {
    let sql = "UPDATE credentials SET verifying_since = NULL WHERE id = $1 AND version = $2 AND verifying_since = $3";
    c.execute(&c.prepare_cached(sql).await?, &[&id, &version, &since.millis()]).await?;
    Ok(())
}

/// See [`crate::Store::record_test`]: guarded by the revision read, so the status change
/// announced is the one written; a concurrent edit makes it read again.
pub(crate) async fn record_test(
    client: &mut Client,
    id: &str,
    version: i64,
    status: Option<Status>,
    message: Option<&str>,
    tested_at: Timestamp,
) -> Result<bool, StoreError> {
    for _ in 0..MAX_STATUS_ROUNDS {
        let Some(before) = get(&*client, id).await?.filter(|c| c.version == version) else {
            return Ok(false);
        };
        let tx = client.transaction().await?;
        let update = tx
            .prepare_cached(concat!(
                "UPDATE credentials SET status = coalesce($1, status), status_message = $2, last_tested_at = $3, ",
                "verifying_since = NULL, revision = revision + 1 WHERE id = $4 AND version = $5 AND revision = $6"
            ))
            .await?;
        let status_text = status.map(|s| s.as_str());
        let done = tx
            .execute(&update, &[&status_text, &message, &tested_at.millis(), &id, &version, &before.revision])
            .await?;
        if done == 0 {
            continue;
        }
        let after = Credential {
            status: status.unwrap_or(before.status),
            status_message: message.map(str::to_owned),
            ..before.clone()
        };
        change::insert_events(&tx, WebhookEvent::status_change(&before, &after, tested_at).iter()).await?;
        tx.commit().await?;
        return Ok(true);
    }
    Err(StoreError::Conflict("the credential kept changing during its test"))
}

pub(crate) async fn due_for_retest(
    c: &impl GenericClient,
    before: Timestamp,
    stale_before: Timestamp,
    limit: u32,
) -> Result<Vec<Credential>, StoreError> {
    // Two statements, so each uses its partial index.
    let stale = format!(
        "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE verifying_since IS NOT NULL AND verifying_since < $1 \
         AND enabled = TRUE ORDER BY verifying_since, id LIMIT $2"
    );
    let mut found = c.query(&c.prepare_cached(&stale).await?, &[&stale_before.millis(), &i64::from(limit)]).await?;
    let room = i64::from(limit) - found.len() as i64;
    if room > 0 {
        let due = format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE enabled = TRUE AND status IN ('connected', 'restricted') \
             AND (last_tested_at IS NULL OR last_tested_at < $1) AND verifying_since IS NULL \
             ORDER BY last_tested_at, id LIMIT $2"
        );
        found.extend(c.query(&c.prepare_cached(&due).await?, &[&before.millis(), &room]).await?);
    }
    found.iter().map(|r| rows::credential(r)?.try_into()).collect()
}

/// Whether the mark was written (false when the credential is gone).
pub(crate) async fn mark_failing(
    client: &mut Client,
    id: &str,
    message: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    for _ in 0..MAX_STATUS_ROUNDS {
        let Some(before) = get(&*client, id).await? else { return Ok(false) };
        let tx = client.transaction().await?;
        let update = tx
            .prepare_cached(concat!(
                "UPDATE credentials SET status = 'error', status_message = $1, updated_at = $2, ",
                "revision = revision + 1 WHERE id = $3 AND revision = $4"
            ))
            .await?;
        if tx.execute(&update, &[&message, &now.millis(), &id, &before.revision]).await? == 0 {
            continue;
        }
        let after = Credential { status: Status::Error, status_message: Some(message.to_owned()), ..before.clone() };
        change::insert_events(&tx, WebhookEvent::status_change(&before, &after, now).iter()).await?;
        tx.commit().await?;
        return Ok(true);
    }
    Err(StoreError::Conflict("the credential kept changing"))
}
