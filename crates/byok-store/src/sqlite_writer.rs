//! SQLite's group-commit writer: a thread of its own with its own connection runs each
//! batch, from `BEGIN IMMEDIATE` to `COMMIT`, synchronously. Through sqlx, every
//! statement was a hand-off to the connection's thread and back to an async task, and
//! under load each hand-off waited for a busy core; those waits were half of a batch's
//! time, and every caller of the batch waited them out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Row, ToSql, TransactionBehavior, params, params_from_iter};

use crate::StoreError;
use crate::group_commit::{self, Arg, GroupCommit, Job, TakeJob, Worker};
use crate::rows::CredentialRow;

const INSERT_AUDIT: &str = "INSERT INTO audit_log (chain, seq, at, actor_token, actor_role, action, owner, \
     credential_id, provider, outcome, request_id, client_addr, detail, mac) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

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

/// The same settings as the pool's connections: every commit synced, foreign keys on.
fn open(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    // While another process writes in short transactions back to back (rotate-key, an
    // import), SQLite's own busy handler sleeps up to 100 ms between tries and missed
    // the gaps for seconds: resolves timed out. Trying every millisecond takes the first gap.
    conn.busy_handler(Some(retry_each_millisecond))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "mmap_size", 268_435_456)?;
    // The writer's pages stay cached: no other connection's write empties its cache
    // often, since almost every write is the writer's.
    conn.pragma_update(None, "cache_size", -16_384)?;
    // One statement per round size (up to 16 here in practice) plus the inserts.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// The writer's busy handler: wait a millisecond and try again, for up to 10 s.
fn retry_each_millisecond(tries: i32) -> bool {
    std::thread::sleep(Duration::from_millis(1));
    tries < 10_000
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
            crate::sqlite_usage::write(&tx, &c.usage, c.period, c.now)?;
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
        let mut insert = tx.prepare_cached(INSERT_AUDIT)?;
        for r in records.iter().chain(audits.iter().flat_map(|a| a.records.iter())) {
            let e = &r.event;
            insert.execute(params![
                r.chain,
                r.seq,
                r.at.millis(),
                e.actor_token,
                e.actor_role,
                e.action,
                e.owner,
                e.credential_id,
                e.provider,
                e.outcome,
                e.request_id,
                e.client_addr,
                e.detail,
                r.mac,
            ])?;
        }
        drop(insert);
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

/// Runs one statement, binding `args` to its parameters `$1`, `$2` … by name (a name's
/// index is the order of its first appearance, which need not be its number).
fn run_statement(tx: &rusqlite::Transaction<'_>, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
    let mut stmt = tx.prepare_cached(sql)?;
    for (i, arg) in args.iter().enumerate() {
        let name = format!("${}", i + 1);
        let index = stmt
            .parameter_index(&name)?
            .ok_or_else(|| StoreError::Metering(format!("a statement has no parameter {name}")))?;
        match arg {
            Arg::Text(text) => stmt.raw_bind_parameter(index, text)?,
            Arg::Int(n) => stmt.raw_bind_parameter(index, n)?,
        }
    }
    Ok(stmt.raw_execute()? as u64)
}

/// The statement that takes one unit for each job of a round: each distinct (owner,
/// provider) picks its best usable credential, and the outer WHERE re-checks the limit.
/// A job with no usable row left is answered "nothing" and its caller looks why.
/// Parameter `$1` is the time of use, then owner, provider and period start for each
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
        (0..jobs).map(|i| format!("(${}, ${}, CAST(${} AS BIGINT))", 2 + 3 * i, 3 + 3 * i, 4 + 3 * i)).collect();
    format!(
        "UPDATE credentials SET usage_total = usage_total + 1, usage_period = usage_period + 1, last_used_at = $1 \
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
        crate::sql_store::credential_columns!()
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
    let rows = stmt.query_map(params_from_iter(params), credential_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A row in `credential_columns!()` order.
fn credential_row(r: &Row<'_>) -> rusqlite::Result<CredentialRow> {
    Ok(CredentialRow {
        id: r.get(0)?,
        owner: r.get(1)?,
        provider: r.get(2)?,
        label: r.get(3)?,
        config: r.get(4)?,
        secret_hints: r.get(5)?,
        key_id: r.get(6)?,
        sealed: r.get(7)?,
        status: r.get(8)?,
        status_message: r.get(9)?,
        last_tested_at: r.get(10)?,
        last_used_at: r.get(11)?,
        enabled: r.get(12)?,
        priority: r.get(13)?,
        monthly_limit: r.get(14)?,
        usage_total: r.get(15)?,
        usage_period: r.get(16)?,
        period_start: r.get(17)?,
        version: r.get(18)?,
        revision: r.get(19)?,
        created_at: r.get(20)?,
        updated_at: r.get(21)?,
        verifying_since: r.get(22)?,
        monthly_token_limit: r.get(23)?,
        rate_limit_per_minute: r.get(24)?,
    })
}

#[cfg(test)]
#[path = "sqlite_writer_tests.rs"]
mod tests;
