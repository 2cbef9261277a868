//! SQLite's group-commit writer: a thread of its own with its own connection runs each
//! batch, from `BEGIN IMMEDIATE` to `COMMIT`, synchronously. When each statement was a
//! hand-off to a connection's thread and back to an async task (as sqlx ran them), under
//! load each hand-off waited for a busy core; those waits were half of a batch's time,
//! and every caller of the batch waited them out.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ToSql, TransactionBehavior, params, params_from_iter};

use super::{change, rows};
use crate::StoreError;
use crate::group_commit::{self, Arg, GroupCommit, Job, TakeJob, Worker};
use crate::rows::CredentialRow;

/// Opens the writer's connection to the database file at `path` (already migrated) and
/// starts its thread.
pub(crate) fn start(path: PathBuf) -> Result<GroupCommit, StoreError> {
    let conn = open(&path)?;
    let mut take_sql = TakeSql::default();
    let meter = GroupCommit::start_thread("byok-sqlite-writer", conn, move |jobs, worker| {
        run_batch(jobs, worker, &path, &mut take_sql)
    })
    .map_err(|e| StoreError::Metering(format!("cannot start the SQLite writer thread: {e}")))?;
    Ok(meter)
}

/// The readers' settings, with a memory map and a bigger page cache: the writer's pages
/// stay cached, since almost every write is the writer's and no other connection's
/// commit empties its cache often.
fn open(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = super::open::connection(path, false)?;
    conn.pragma_update(None, "mmap_size", 268_435_456)?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    Ok(conn)
}

/// Runs one batch in one transaction and answers its jobs. A failed batch drops the
/// connection (rolling back whatever it began); the next batch opens a new one.
fn run_batch(jobs: Vec<Job>, worker: &mut Worker<Connection>, path: &Path, take_sql: &mut TakeSql) {
    let mut batch = group_commit::split(jobs);
    let mut conn = worker.conn.take();
    let outcome = (|| {
        let conn = match &mut conn {
            Some(conn) => conn,
            None => conn.insert(open(path)?),
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for statement in &mut batch.statements {
            statement.changed = run_statement(&tx, statement.sql, &statement.args)?;
        }
        let (rounds, audits) = (&batch.rounds, &batch.audits);
        let mut answers = Vec::with_capacity(rounds.len());
        for round in rounds {
            answers.push(take_round(&tx, take_sql.for_jobs(round.len()), round)?);
        }
        let counts =
            batch.usages.iter().map(|u| &u.counts).chain(batch.audits.iter().filter_map(|a| a.counts.as_deref()));
        for c in counts {
            super::usage_counts::write(&tx, &c.usage, c.period, c.now)?;
        }
        let taken = group_commit::taken_events(rounds, &answers);
        let (genesis, mut records) = group_commit::chain_take_entries(&worker.chainer, worker.last.as_ref(), taken)
            .map_err(StoreError::Metering)?;
        if let Some(genesis) = genesis {
            tx.prepare_cached("INSERT INTO audit_chains (chain, started_at) VALUES (?1, ?2)")?
                .execute(params![genesis.chain, genesis.at.millis()])?;
            records.insert(0, genesis);
        }
        let last = records.last().cloned();
        change::insert_audit(&tx, records.iter().chain(audits.iter().flat_map(|a| a.records.iter())))?;
        tx.commit()?;
        Ok::<_, StoreError>((answers, last))
    })();
    let outcome = match outcome {
        Ok((answers, last)) => {
            worker.conn = conn;
            if last.is_some() {
                worker.last = last;
            }
            Ok(answers)
        }
        Err(e) => Err(e),
    };
    group_commit::answer(batch, outcome);
}

/// Runs one statement, binding `args` to its parameters `?1`, `?2` … by number.
fn run_statement(tx: &rusqlite::Transaction<'_>, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
    let mut stmt = tx.prepare_cached(sql)?;
    for (i, arg) in args.iter().enumerate() {
        match arg {
            Arg::Text(text) => stmt.raw_bind_parameter(i + 1, text)?,
            Arg::Int(n) => stmt.raw_bind_parameter(i + 1, n)?,
        }
    }
    Ok(stmt.raw_execute()? as u64)
}

/// The statement that takes one unit for each job of a round: each distinct (owner,
/// provider) picks its best usable credential, and the outer WHERE re-checks the limit.
/// A job with no usable row left is answered "nothing" and its caller looks why.
/// Parameter `?1` is the time of use, then owner, provider and period start for each
/// job; they appear in order, so they bind by position. One text per round size, made
/// once: it is also the key of the connection's prepared-statement cache.
#[derive(Default)]
struct TakeSql(Vec<String>);

impl TakeSql {
    fn for_jobs(&mut self, jobs: usize) -> &str {
        while self.0.len() < jobs {
            self.0.push(take_sql(self.0.len() + 1));
        }
        &self.0[jobs - 1]
    }
}

fn take_sql(jobs: usize) -> String {
    let values: Vec<String> =
        (0..jobs).map(|i| format!("(?{}, ?{}, CAST(?{} AS BIGINT))", 2 + 3 * i, 3 + 3 * i, 4 + 3 * i)).collect();
    format!(
        "UPDATE credentials SET usage_total = usage_total + 1, usage_period = usage_period + 1, last_used_at = ?1 \
         FROM (SELECT (SELECT c.id FROM credentials c WHERE c.owner = j.column1 \
         AND c.provider = j.column2 AND c.enabled = TRUE AND c.status <> 'error' \
         AND c.period_start >= j.column3 \
         AND (c.monthly_limit IS NULL OR c.usage_period < c.monthly_limit) \
         AND (c.monthly_token_limit IS NULL OR NOT EXISTS (SELECT 1 FROM credential_tokens t \
         WHERE t.credential_id = c.id AND t.period_start >= j.column3 AND t.tokens_period >= c.monthly_token_limit)) \
         ORDER BY c.priority, c.id LIMIT 1) AS pick FROM (VALUES {}) AS j) AS p \
         WHERE credentials.id = p.pick AND enabled = TRUE AND status <> 'error' \
         AND (monthly_limit IS NULL OR usage_period < monthly_limit) RETURNING {}",
        values.join(", "),
        crate::rows::CREDENTIAL_COLUMNS
    )
}

/// Takes one unit for each job of a round with one `UPDATE` (`sql`, for its size).
fn take_round(tx: &rusqlite::Transaction<'_>, sql: &str, round: &[TakeJob]) -> Result<Vec<CredentialRow>, StoreError> {
    let now = round.iter().map(|j| j.now).max().unwrap_or_default();
    let mut stmt = tx.prepare_cached(sql)?;
    let mut params: Vec<&dyn ToSql> = Vec::with_capacity(1 + 3 * round.len());
    params.push(&now);
    for job in round {
        params.extend([&job.owner as &dyn ToSql, &job.provider, &job.period]);
    }
    let rows = stmt.query_map(params_from_iter(params), rows::credential)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
