//! PostgreSQL's group-commit writer, on tokio-postgres. A batch is one statement, and
//! one round trip, when its picks are predicted (see `predicted.rs`); else it is two
//! pipelined round trips (`BEGIN` sent with the take, then the audit `INSERT` sent with
//! `COMMIT`), where sqlx, which cannot pipeline, needed four. Each worker drives its
//! connection itself, in its own task, so no reply waits for another task. The
//! statements take arrays, so one prepared statement serves every batch size.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, OnceLock};
use std::task::Poll;

use byok_core::AuditRecord;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, Connection, Socket, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use tokio_postgres::types::ToSql;

use super::predicted::{self, Predictions};
use super::rows;
use super::tls::PgUrl;
use crate::StoreError;
use crate::group_commit::{self, AuditJob, GroupCommit, Job, TakeJob, Worker};
use crate::rows::{CREDENTIAL_COLUMNS, CredentialRow};

/// One unit for each (owner, provider) of a round: each picks its best usable credential
/// and locks it. `unnest` yields the jobs in their (owner, provider) order and each
/// locks at most one row of its own pair, so concurrent statements, on any number of
/// instances, lock in one order and cannot deadlock. A pick whose row another instance
/// took to its limit meanwhile moves on to the next usable row once the lock is
/// granted; the outer WHERE re-checks the limit under the lock, so nothing is taken
/// past it. A job with no usable row left is answered "nothing" and its caller looks why.
/// The picks are gathered into an array that the `UPDATE` looks up by primary key: a
/// join of the picks with the table let the planner scan the whole table instead.
pub(crate) static TAKE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE credentials SET usage_total = usage_total + 1, usage_period = usage_period + 1, last_used_at = $1 \
         WHERE id = ANY(ARRAY(SELECT (SELECT c.id FROM credentials c WHERE c.owner = j.owner AND c.provider = j.provider \
         AND c.enabled = TRUE AND c.status <> 'error' AND c.period_start >= j.period \
         AND (c.monthly_limit IS NULL OR c.usage_period < c.monthly_limit) \
         AND (c.monthly_token_limit IS NULL OR NOT EXISTS (SELECT 1 FROM credential_tokens t \
         WHERE t.credential_id = c.id AND t.period_start >= j.period AND t.tokens_period >= c.monthly_token_limit)) \
         ORDER BY c.priority, c.id LIMIT 1 FOR UPDATE) \
         FROM unnest($2::text[], $3::text[], $4::bigint[]) AS j(owner, provider, period))) \
         AND enabled = TRUE AND status <> 'error' AND (monthly_limit IS NULL OR usage_period < monthly_limit) \
         RETURNING {CREDENTIAL_COLUMNS}"
    )
});

pub(crate) const INSERT_AUDIT: &str = concat!(
    "INSERT INTO audit_log (chain, seq, at, actor_token, actor_role, action, owner, credential_id, provider, ",
    "outcome, request_id, client_addr, detail, mac) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], ",
    "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], ",
    "$13::text[], $14::bytea[])"
);

const NEW_CHAIN: &str = "INSERT INTO audit_chains (chain, started_at) VALUES ($1, $2)";

/// The `application_name` of the writer's connections, unless the URL names one.
const WRITER_NAME: &str = "byok-metering";

/// What a writer's connection runs over: TLS or plain, as `sslmode` says.
type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;

/// How a writer opens its connections: the server's settings and the TLS to it.
struct Target {
    config: Config,
    tls: MakeRustlsConnect,
}

/// A writer's connection, its prepared statements and what it predicts of the picks.
pub(crate) struct WriterConn {
    client: Client,
    connection: Connection<Socket, Stream>,
    take: Statement,
    insert: Statement,
    new_chain: Statement,
    predicted: Statement,
    predictions: Predictions,
}

/// Starts the writer for the database at `url` (already migrated); it opens its
/// connection with its first batch. One writer per instance: one gathers bigger batches
/// than several would, at less server CPU per unit, and more writers measured slower
/// every time (at 16 clients, 2 writers 16.1–16.8k resolves/s, 3 writers 14.3–14.9k,
/// 1 writer 18.2–20.3k; see bench/README.md). Other instances have writers of their own.
pub(crate) fn start(url: &PgUrl) -> Result<GroupCommit, StoreError> {
    let mut config: Config = url
        .rest
        .parse()
        .map_err(|e| StoreError::Metering(format!("the PostgreSQL URL does not suit the metering writer: {e}")))?;
    // As on the pool's connections (see `PgStore::connect`). And: the writer's
    // statements are planned once, not again for every batch, and only with index
    // lookups, whatever the statistics when they were planned (a fresh, empty table
    // makes a scan look cheap, and a plan so made would be kept for good).
    config.options("-c random_page_cost=1.1 -c plan_cache_mode=force_generic_plan -c enable_seqscan=off");
    if config.get_application_name().is_none() {
        config.application_name(WRITER_NAME);
    }
    let tls = url.tls.tokio_postgres(&mut config)?;
    let target = Arc::new(Target { config, tls });
    Ok(GroupCommit::start(move |jobs, worker| run_batch(jobs, worker, target.clone())))
}

impl WriterConn {
    async fn open(target: &Target) -> Result<Self, StoreError> {
        let (client, mut connection) = target.config.connect(target.tls.clone()).await?;
        let prepare = async {
            tokio::try_join!(
                client.prepare(&TAKE),
                client.prepare(INSERT_AUDIT),
                client.prepare(NEW_CHAIN),
                client.prepare(&predicted::PREDICTED_BATCH)
            )
        };
        let (take, insert, new_chain, predicted) = drive(&mut connection, async { Ok(prepare.await?) }).await?;
        Ok(Self { client, connection, take, insert, new_chain, predicted, predictions: Predictions::default() })
    }
}

/// Runs one batch in one transaction and answers its jobs: in one round trip when the
/// picks can be predicted, else in two. A failed batch drops its connection (the server
/// rolls back what it began); the next batch opens a new one.
async fn run_batch(jobs: Vec<Job>, mut worker: Worker<WriterConn>, target: Arc<Target>) -> Worker<WriterConn> {
    let mut batch = group_commit::split(jobs);
    // PostgreSQL's counts and unit statements go through its pool (it has no single
    // writer to keep).
    for usage in std::mem::take(&mut batch.usages) {
        Job::Usage(Box::new(usage)).fail("the PostgreSQL writer does not write counts");
    }
    for statement in std::mem::take(&mut batch.statements) {
        Job::Statement(statement).fail("the PostgreSQL writer runs no statements of the pool's");
    }
    let (counted, audits): (Vec<_>, Vec<_>) =
        std::mem::take(&mut batch.audits).into_iter().partition(|a| a.counts.is_some());
    batch.audits = audits;
    for audit in counted {
        Job::Audit(audit).fail("the PostgreSQL writer writes no counts");
    }
    let (rounds, audits) = (&batch.rounds, &batch.audits);
    let mut conn = worker.conn.take();
    let outcome = async {
        let conn = match &mut conn {
            Some(conn) => conn,
            None => conn.insert(WriterConn::open(&target).await?),
        };
        let WriterConn { client, connection, take, insert, new_chain, predicted, predictions } = conn;
        let chain = (&*worker.chainer, worker.last.as_ref());
        let done = drive(connection, async {
            let statements = (&*client, &*predicted);
            match predicted::batch(statements, predictions, rounds, audits, chain).await? {
                Some(done) => Ok(done),
                None => two_trips(client, take, insert, new_chain, rounds, audits, chain).await,
            }
        })
        .await?;
        predictions.learn(rounds, &done.0);
        Ok(done)
    }
    .await;
    let outcome = outcome.map(|(answers, last)| {
        worker.conn = conn;
        if last.is_some() {
            worker.last = last;
        }
        answers
    });
    group_commit::answer(batch, outcome);
    worker
}

/// The batch in two round trips: `BEGIN` with the take, then the audit `INSERT` (whose
/// MACs cover the credentials picked) with `COMMIT`. Answers the rows taken per round
/// and the chain's new last record, if it wrote any.
async fn two_trips(
    client: &Client,
    take: &Statement,
    insert: &Statement,
    new_chain: &Statement,
    rounds: &[Vec<TakeJob>],
    audits: &[AuditJob],
    (chainer, last): Chain<'_>,
) -> Result<Batched, StoreError> {
    let mut answers = Vec::with_capacity(rounds.len());
    for (i, round) in rounds.iter().enumerate() {
        let arrays = TakeArrays::new(round);
        let params = arrays.params();
        let taking = client.query(take, &params);
        let rows = if i == 0 { tokio::try_join!(client.batch_execute("BEGIN"), taking)?.1 } else { taking.await? };
        answers.push(rows.iter().map(rows::credential).collect::<Result<Vec<_>, _>>()?);
    }
    if rounds.is_empty() {
        client.batch_execute("BEGIN").await?;
    }
    let taken = group_commit::taken_events(rounds, &answers);
    let (genesis, mut records) =
        group_commit::chain_take_entries(chainer, last, taken).map_err(StoreError::Metering)?;
    let registering = async {
        match &genesis {
            Some(g) => client.execute(new_chain, &[&g.chain, &g.at.millis()]).await.map(drop),
            None => Ok(()),
        }
    };
    if let Some(genesis) = genesis.clone() {
        records.insert(0, genesis);
    }
    let new_last = records.last().cloned();
    let all: Vec<&AuditRecord> = records.iter().chain(audits.iter().flat_map(|a| a.records.iter())).collect();
    let inserting = async {
        if all.is_empty() {
            return Ok(());
        }
        client.execute(insert, &AuditArrays::new(&all).params()).await.map(drop)
    };
    tokio::try_join!(registering, inserting, client.batch_execute("COMMIT"))?;
    Ok((answers, new_last))
}

/// The chain a writer extends: its chainer and the last record it wrote, if any.
pub(crate) type Chain<'a> = (&'a OnceLock<Arc<dyn crate::Chainer>>, Option<&'a AuditRecord>);

/// What a batch did: the rows taken per round and the chain's new last record, if any.
pub(crate) type Batched = (Vec<Vec<CredentialRow>>, Option<AuditRecord>);

/// A round's jobs as the take statement's parameters `$1`–`$4`.
pub(crate) struct TakeArrays<'a> {
    now: i64,
    owners: Vec<&'a str>,
    providers: Vec<&'a str>,
    periods: Vec<i64>,
}

impl<'a> TakeArrays<'a> {
    pub(crate) fn new(round: &'a [TakeJob]) -> Self {
        Self {
            now: round.iter().map(|j| j.now).max().unwrap_or_default(),
            owners: round.iter().map(|j| j.owner.as_str()).collect(),
            providers: round.iter().map(|j| j.provider.as_str()).collect(),
            periods: round.iter().map(|j| j.period).collect(),
        }
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 4] {
        [&self.now, &self.owners, &self.providers, &self.periods]
    }
}

/// Audit records as the audit insert's column arrays, in `INSERT_AUDIT` order.
pub(crate) struct AuditArrays<'a> {
    chains: Vec<&'a str>,
    seqs: Vec<i64>,
    ats: Vec<i64>,
    actor_tokens: Vec<Option<&'a str>>,
    actor_roles: Vec<&'a str>,
    actions: Vec<&'a str>,
    owners: Vec<Option<&'a str>>,
    credential_ids: Vec<Option<&'a str>>,
    providers: Vec<Option<&'a str>>,
    outcomes: Vec<&'a str>,
    request_ids: Vec<Option<&'a str>>,
    client_addrs: Vec<Option<&'a str>>,
    details: Vec<Option<&'a str>>,
    macs: Vec<&'a [u8]>,
}

impl<'a> AuditArrays<'a> {
    pub(crate) fn new(records: &[&'a AuditRecord]) -> Self {
        let text = |f: fn(&'a AuditRecord) -> Option<&'a str>| records.iter().map(|r| f(r)).collect::<Vec<_>>();
        let must = |f: fn(&'a AuditRecord) -> &'a str| records.iter().map(|r| f(r)).collect::<Vec<_>>();
        Self {
            chains: must(|r| &r.chain),
            seqs: records.iter().map(|r| r.seq).collect(),
            ats: records.iter().map(|r| r.at.millis()).collect(),
            actor_tokens: text(|r| r.event.actor_token.as_deref()),
            actor_roles: must(|r| &r.event.actor_role),
            actions: must(|r| &r.event.action),
            owners: text(|r| r.event.owner.as_deref()),
            credential_ids: text(|r| r.event.credential_id.as_deref()),
            providers: text(|r| r.event.provider.as_deref()),
            outcomes: must(|r| &r.event.outcome),
            request_ids: text(|r| r.event.request_id.as_deref()),
            client_addrs: text(|r| r.event.client_addr.as_deref()),
            details: text(|r| r.event.detail.as_deref()),
            macs: records.iter().map(|r| r.mac.as_slice()).collect(),
        }
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 14] {
        [
            &self.chains,
            &self.seqs,
            &self.ats,
            &self.actor_tokens,
            &self.actor_roles,
            &self.actions,
            &self.owners,
            &self.credential_ids,
            &self.providers,
            &self.outcomes,
            &self.request_ids,
            &self.client_addrs,
            &self.details,
            &self.macs,
        ]
    }
}

/// Runs `work` while driving the connection it talks through, in this one task.
async fn drive<T>(
    connection: &mut Connection<Socket, Stream>,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = work.as_mut().poll(cx) {
            return Poll::Ready(result);
        }
        match Pin::new(&mut *connection).poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Err(StoreError::Metering("the PostgreSQL connection closed".into()))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
