//! Counts of uses made without a limit, written by SQLite's group-commit writer in a
//! batch's transaction: the database keeps one writer, so counts never wait for (or
//! hold) the write lock beside it. The same statements as PostgreSQL's
//! (`postgres/usage_counts.rs`), in rusqlite's numbered parameters.

use rusqlite::{Transaction, params};

use crate::ProxyUsage;

const CREDENTIAL_REQUESTS: &str = "UPDATE credentials SET usage_total = usage_total + ?2, usage_period = usage_period + ?2, last_used_at = ?3 \
     WHERE id = ?1";

const CREDENTIAL_TOKENS: &str = concat!(
    "INSERT INTO credential_tokens (credential_id, tokens_total, tokens_period, period_start) ",
    "SELECT id, ?2, ?2, ?3 FROM credentials WHERE id = ?1 ",
    // Sums held at the largest INTEGER (SQLite would turn the column into a float).
    "ON CONFLICT (credential_id) DO UPDATE SET tokens_total = ",
    "CASE WHEN credential_tokens.tokens_total > 9223372036854775807 - excluded.tokens_total THEN 9223372036854775807 ELSE credential_tokens.tokens_total + excluded.tokens_total END",
    ", tokens_period = CASE WHEN credential_tokens.period_start >= excluded.period_start THEN ",
    "CASE WHEN credential_tokens.tokens_period > 9223372036854775807 - excluded.tokens_period THEN 9223372036854775807 ELSE credential_tokens.tokens_period + excluded.tokens_period END",
    " ELSE excluded.tokens_period END, ",
    "period_start = CASE WHEN credential_tokens.period_start >= excluded.period_start ",
    "THEN credential_tokens.period_start ELSE excluded.period_start END"
);

const VIRTUAL_KEY: &str = concat!(
    "UPDATE virtual_keys SET usage_total = usage_total + ?2, tokens_total = ",
    "CASE WHEN tokens_total > 9223372036854775807 - ?3 THEN 9223372036854775807 ELSE tokens_total + ?3 END",
    ", usage_period = CASE WHEN period_start >= ?4 THEN usage_period + ?2 ELSE ?2 END, ",
    "tokens_period = CASE WHEN period_start >= ?4 THEN ",
    "CASE WHEN tokens_period > 9223372036854775807 - ?3 THEN 9223372036854775807 ELSE tokens_period + ?3 END",
    " ELSE ?3 END, ",
    "period_start = CASE WHEN period_start >= ?4 THEN period_start ELSE ?4 END, ",
    "last_used_at = CASE WHEN ?2 > 0 THEN ?5 ELSE last_used_at END ",
    "WHERE token_id = ?1"
);

/// Adds `usage` (counters of an older period start `period` afresh), ids in order: one
/// lock order for every writer. Credentials or keys deleted meanwhile are skipped.
pub(crate) fn write(tx: &Transaction<'_>, usage: &ProxyUsage, period: i64, now: i64) -> rusqlite::Result<()> {
    let mut requests = usage.credential_requests.clone();
    requests.sort_by_key(|(id, _)| *id);
    let mut update = tx.prepare_cached(CREDENTIAL_REQUESTS)?;
    for (id, n) in requests {
        update.execute(params![id.to_string(), n, now])?;
    }
    let mut tokens = usage.credential_tokens.clone();
    tokens.sort_by_key(|(id, _)| *id);
    let mut upsert = tx.prepare_cached(CREDENTIAL_TOKENS)?;
    for (id, n) in tokens {
        upsert.execute(params![id.to_string(), n, period])?;
    }
    let mut keys = usage.virtual_keys.clone();
    keys.sort_by_key(|d| d.token_id);
    let mut update = tx.prepare_cached(VIRTUAL_KEY)?;
    for d in keys {
        update.execute(params![d.token_id.to_string(), d.requests, d.tokens, period, now])?;
    }
    Ok(())
}
