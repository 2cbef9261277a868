//! Group commit for the hot writes: concurrent `take_unit` calls and audit appends are
//! gathered into one transaction per batch, so many units and entries share one commit
//! (one fsync) instead of one each. Units are taken with one `UPDATE` statement per
//! round (a round holds at most one job per owner and provider). An answer is sent only
//! after its transaction committed, so every granted unit and every audit entry is
//! durable before anyone is told so.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

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
    pub reply: oneshot::Sender<Result<Option<CredentialRow>, StoreError>>,
}

/// One `append_audit` call waiting for its batch.
pub(crate) struct AuditJob {
    pub records: Vec<byok_core::AuditRecord>,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

pub(crate) enum Job {
    Take(TakeJob),
    Audit(AuditJob),
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
        }
    }
}

pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts `workers` tasks, each running batches with `run`, which must answer every
    /// job it is given.
    pub(crate) fn start<F, Fut>(workers: usize, run: F) -> Self
    where
        F: Fn(Vec<Job>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (jobs, queue) = mpsc::channel::<Job>(MAX_BATCH * 16);
        let queue = Arc::new(Mutex::new(queue));
        let run = Arc::new(run);
        for _ in 0..workers {
            let (queue, run) = (queue.clone(), run.clone());
            tokio::spawn(async move {
                loop {
                    let batch = {
                        let mut queue = queue.lock().await;
                        let Some(first) = queue.recv().await else { return };
                        let mut batch = vec![first];
                        while batch.len() < MAX_BATCH {
                            match queue.try_recv() {
                                Ok(job) => batch.push(job),
                                Err(_) => break,
                            }
                        }
                        batch
                    };
                    run(batch).await;
                }
            });
        }
        Self { jobs }
    }

    pub(crate) async fn take(
        &self,
        owner: String,
        provider: String,
        period: i64,
        now: i64,
    ) -> Result<Option<CredentialRow>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Take(TakeJob { owner, provider, period, now, reply }))
            .await
            .map_err(|_| StoreError::Metering("the metering worker has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Metering("the metering worker dropped a request".into()))?
    }

    pub(crate) async fn append_audit(&self, records: Vec<byok_core::AuditRecord>) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Audit(AuditJob { records, reply }))
            .await
            .map_err(|_| StoreError::Metering("the write worker has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Metering("the write worker dropped a request".into()))?
    }
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
