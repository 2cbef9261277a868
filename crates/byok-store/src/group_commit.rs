//! Group commit for the hot writes: concurrent `take_unit` calls and audit appends are
//! gathered into one transaction per batch, so many units and entries share one commit
//! (one fsync) instead of one each. Units are taken with one `UPDATE` statement per
//! round (a round holds at most one job per owner and provider). An answer is sent only
//! after its transaction committed, so every granted unit and every audit entry is
//! durable before anyone is told so.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::rows::CredentialRow;

/// Most units taken in one transaction.
const MAX_BATCH: usize = 256;

/// One `take_unit` call waiting for its batch.
pub(crate) struct TakeJob {
    pub owner: String,
    pub provider: String,
    pub period: i64,
    pub now: i64,
    /// The audit entry to write with the unit, if any.
    pub audit: Option<byok_core::AuditEvent>,
    pub reply: oneshot::Sender<Result<Option<CredentialRow>, StoreError>>,
}

/// One `append_audit` call waiting for its batch.
pub(crate) struct AuditJob {
    pub records: Vec<byok_core::AuditRecord>,
    /// Counts of the uses these entries record, written in the same transaction.
    pub counts: Option<Box<Counts>>,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

/// Counts of uses without a limit: added in the period starting at `period` (ms), used at `now`.
pub(crate) struct Counts {
    pub usage: crate::ProxyUsage,
    pub period: i64,
    pub now: i64,
}

/// Counts of uses made without a limit, written in a batch's transaction (SQLite's
/// writer takes them so that its database has one writer).
pub(crate) struct UsageJob {
    pub counts: Counts,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

/// A value for one numbered parameter (`$1`, `$2` …) of a [`StatementJob`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Arg::Text(text)
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Int(n)
    }
}

/// One statement run in a batch's transaction (a unit of a virtual key's limit, a
/// credential's unit taken or given back by id), so that SQLite's writer stays the
/// database's one writer; answered with the number of rows it changed.
pub(crate) struct StatementJob {
    pub sql: &'static str,
    pub args: Vec<Arg>,
    /// Rows changed, set by the worker once the statement ran.
    pub changed: u64,
    pub reply: oneshot::Sender<Result<u64, StoreError>>,
}

pub(crate) enum Job {
    Take(Box<TakeJob>),
    Audit(AuditJob),
    Usage(Box<UsageJob>),
    Statement(StatementJob),
}

/// A batch's jobs by kind: unit takes in rounds, audit appends, counts, statements.
pub(crate) struct Batch {
    pub rounds: Vec<Vec<TakeJob>>,
    pub audits: Vec<AuditJob>,
    pub usages: Vec<UsageJob>,
    pub statements: Vec<StatementJob>,
}

impl Job {
    /// Tells the caller its batch failed: nothing of it was written.
    pub(crate) fn fail(self, message: &str) {
        match self {
            Job::Take(job) => {
                let _ = job.reply.send(Err(StoreError::Metering(message.to_owned())));
            }
            Job::Audit(job) => {
                let _ = job.reply.send(Err(StoreError::Metering(message.to_owned())));
            }
            Job::Usage(job) => {
                let _ = job.reply.send(Err(StoreError::Metering(message.to_owned())));
            }
            Job::Statement(job) => {
                let _ = job.reply.send(Err(StoreError::Metering(message.to_owned())));
            }
        }
    }
}

pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
    chainer: Arc<std::sync::OnceLock<Arc<dyn crate::Chainer>>>,
}

/// What a worker keeps from one batch to the next: its own audit chain (the chainer and
/// the last record written, if any) and the connection it writes through.
pub(crate) struct Worker<C> {
    pub chainer: Arc<std::sync::OnceLock<Arc<dyn crate::Chainer>>>,
    pub last: Option<byok_core::AuditRecord>,
    /// The worker's own connection, kept from batch to batch. `None` when it is still to
    /// be opened: before the first batch (for a lazy worker) and after a failed one.
    pub conn: Option<C>,
}

impl GroupCommit {
    /// Starts one task that runs every batch with `run`, which must answer every job
    /// it is given.
    pub(crate) fn start<C, F, Fut>(mut run: F) -> Self
    where
        C: Send + 'static,
        F: FnMut(Vec<Job>, Worker<C>) -> Fut + Send + 'static,
        Fut: Future<Output = Worker<C>> + Send + 'static,
    {
        let (jobs, mut queue) = mpsc::channel::<Job>(MAX_BATCH * 16);
        let chainer = Arc::new(std::sync::OnceLock::new());
        let mut worker = Worker { chainer: chainer.clone(), last: None, conn: None };
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let batch = fill(first, &mut queue);
                worker = run(batch, worker).await;
            }
        });
        Self { jobs, chainer }
    }

    /// Starts one thread of its own that runs every batch itself with `run`, for a
    /// synchronous driver: from `BEGIN` to `COMMIT` a batch then waits for no other
    /// thread, so no hand-off lengthens the time its callers wait. The thread ends
    /// when the `GroupCommit` is dropped.
    pub(crate) fn start_thread<C, F>(name: &str, conn: C, mut run: F) -> std::io::Result<Self>
    where
        C: Send + 'static,
        F: FnMut(Vec<Job>, &mut Worker<C>) + Send + 'static,
    {
        let (jobs, mut queue) = mpsc::channel::<Job>(MAX_BATCH * 16);
        let chainer = Arc::new(std::sync::OnceLock::new());
        let mut worker = Worker { chainer: chainer.clone(), last: None, conn: Some(conn) };
        std::thread::Builder::new().name(name.to_owned()).spawn(move || {
            while let Some(first) = queue.blocking_recv() {
                let batch = fill(first, &mut queue);
                run(batch, &mut worker);
            }
        })?;
        Ok(Self { jobs, chainer })
    }

    pub(crate) fn attach_chainer(&self, chainer: Arc<dyn crate::Chainer>) {
        let _ = self.chainer.set(chainer);
    }

    pub(crate) async fn take(
        &self,
        owner: String,
        provider: String,
        period: i64,
        now: i64,
        audit: Option<byok_core::AuditEvent>,
    ) -> Result<Option<CredentialRow>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Take(Box::new(TakeJob { owner, provider, period, now, audit, reply })))
            .await
            .map_err(|_| StoreError::Metering("the metering worker has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Metering("the metering worker dropped a request".into()))?
    }

    pub(crate) async fn record_usage(&self, usage: crate::ProxyUsage, period: i64, now: i64) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Usage(Box::new(UsageJob { counts: Counts { usage, period, now }, reply })))
            .await
            .map_err(|_| StoreError::Metering("the write worker has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Metering("the write worker dropped a request".into()))?
    }

    /// Runs `sql` with `args` in the next batch; answers the number of rows it changed.
    pub(crate) async fn statement(&self, sql: &'static str, args: Vec<Arg>) -> Result<u64, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Statement(StatementJob { sql, args, changed: 0, reply }))
            .await
            .map_err(|_| StoreError::Metering("the write worker has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Metering("the write worker dropped a request".into()))?
    }

    /// Appends `records`, and adds `counts` in the same transaction if there are any.
    pub(crate) async fn append_audit(
        &self,
        records: Vec<byok_core::AuditRecord>,
        counts: Option<Counts>,
    ) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let counts = counts.map(Box::new);
        self.jobs
            .send(Job::Audit(AuditJob { records, counts, reply }))
            .await
            .map_err(|_| StoreError::Metering("the write worker has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Metering("the write worker dropped a request".into()))?
    }
}

/// A batch: `first` and whatever else is already waiting, up to [`MAX_BATCH`].
fn fill(first: Job, queue: &mut mpsc::Receiver<Job>) -> Vec<Job> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    batch
}

/// Splits take jobs into rounds of distinct (owner, provider) pairs, sorted so every
/// statement locks rows in one order (no deadlock between instances).
pub(crate) fn rounds(mut jobs: Vec<TakeJob>) -> Vec<Vec<TakeJob>> {
    jobs.sort_by(|a, b| (&a.owner, &a.provider).cmp(&(&b.owner, &b.provider)));
    let mut rounds = Vec::new();
    while !jobs.is_empty() {
        let mut round: Vec<TakeJob> = Vec::with_capacity(jobs.len());
        let mut later = Vec::new();
        for job in jobs {
            if round.last().is_some_and(|prev| prev.owner == job.owner && prev.provider == job.provider) {
                later.push(job);
            } else {
                round.push(job);
            }
        }
        rounds.push(round);
        jobs = later;
    }
    rounds
}

/// Separates a batch's jobs by kind, its unit takes in rounds.
pub(crate) fn split(jobs: Vec<Job>) -> Batch {
    let (mut takes, mut audits, mut usages, mut statements) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for job in jobs {
        match job {
            Job::Take(t) => takes.push(*t),
            Job::Audit(a) => audits.push(a),
            Job::Usage(u) => usages.push(*u),
            Job::Statement(s) => statements.push(s),
        }
    }
    Batch { rounds: rounds(takes), audits, usages, statements }
}

/// Where a taken unit came from, as its audit entry names it.
pub(crate) struct TakenFrom<'a> {
    pub owner: &'a str,
    pub provider: &'a str,
    pub id: &'a str,
}

impl<'a> From<&'a CredentialRow> for TakenFrom<'a> {
    fn from(row: &'a CredentialRow) -> Self {
        Self { owner: &row.owner, provider: &row.provider, id: &row.id }
    }
}

/// The audit events of the units a batch took, with the rows they were taken from.
pub(crate) fn taken_events<'a>(
    rounds: &[Vec<TakeJob>],
    answers: &'a [Vec<CredentialRow>],
) -> Vec<(byok_core::AuditEvent, TakenFrom<'a>)> {
    let mut taken = Vec::new();
    for (round, rows) in rounds.iter().zip(answers) {
        for job in round {
            let row = rows.iter().find(|r| r.owner == job.owner && r.provider == job.provider);
            if let (Some(event), Some(row)) = (&job.audit, row) {
                taken.push((event.clone(), row.into()));
            }
        }
    }
    taken
}

/// Answers every job of a batch with what its transaction did.
pub(crate) fn answer(batch: Batch, outcome: Result<Vec<Vec<CredentialRow>>, StoreError>) {
    let Batch { rounds, audits, usages, statements } = batch;
    match outcome {
        Ok(answers) => {
            for (round, rows) in rounds.into_iter().zip(answers) {
                for (job, row) in match_rows(round, rows) {
                    let _ = job.reply.send(Ok(row));
                }
            }
            for audit in audits {
                let _ = audit.reply.send(Ok(()));
            }
            for usage in usages {
                let _ = usage.reply.send(Ok(()));
            }
            for statement in statements {
                let _ = statement.reply.send(Ok(statement.changed));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "write batch failed; nothing of it was written");
            let message = e.to_string();
            for job in rounds.into_iter().flatten() {
                Job::Take(Box::new(job)).fail(&message);
            }
            for audit in audits {
                Job::Audit(audit).fail(&message);
            }
            for usage in usages {
                Job::Usage(Box::new(usage)).fail(&message);
            }
            for statement in statements {
                Job::Statement(statement).fail(&message);
            }
        }
    }
}

/// Pairs each job of a round with the row its statement updated for it, if any.
pub(crate) fn match_rows(round: Vec<TakeJob>, rows: Vec<CredentialRow>) -> Vec<(TakeJob, Option<CredentialRow>)> {
    let mut by_pair: HashMap<(String, String), CredentialRow> =
        rows.into_iter().map(|r| ((r.owner.clone(), r.provider.clone()), r)).collect();
    round
        .into_iter()
        .map(|job| {
            let row = by_pair.remove(&(job.owner.clone(), job.provider.clone()));
            (job, row)
        })
        .collect()
}

/// The audit records to write in this batch's transaction: the taken units' entries
/// (filled in from their rows) chained after the worker's last record, plus, for a new
/// chain, its genesis. Returns (genesis to register, records to insert).
pub(crate) fn chain_take_entries(
    chainer: &std::sync::OnceLock<Arc<dyn crate::Chainer>>,
    last: Option<&byok_core::AuditRecord>,
    taken: Vec<(byok_core::AuditEvent, TakenFrom<'_>)>,
) -> Result<(Option<byok_core::AuditRecord>, Vec<byok_core::AuditRecord>), String> {
    if taken.is_empty() {
        return Ok((None, Vec::new()));
    }
    let chainer = chainer.get().ok_or("audited metering needs a chainer attached")?;
    let events = taken
        .into_iter()
        .map(|(mut event, from)| {
            event.owner = Some(from.owner.to_owned());
            event.credential_id = Some(from.id.to_owned());
            event.provider = Some(from.provider.to_owned());
            event
        })
        .collect();
    let (genesis, previous) = match last {
        Some(last) => (None, last.clone()),
        None => {
            let genesis = chainer.genesis();
            (Some(genesis.clone()), genesis)
        }
    };
    Ok((genesis, chainer.extend(&previous, events)))
}
