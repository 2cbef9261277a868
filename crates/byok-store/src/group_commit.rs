//! Group commit for metering: concurrent `take_unit` calls are gathered into batches,
//! and a batch takes its units with one `UPDATE` statement per round (a round holds at
//! most one job per owner and provider), so many units share one statement and one
//! commit (one fsync) instead of one each. An answer is sent only after its statement
//! committed, so every granted unit is durable and counted.

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

pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<TakeJob>,
}

impl GroupCommit {
    /// Starts `workers` tasks, each running batches with `run`, which must answer every
    /// job it is given.
    pub(crate) fn start<F, Fut>(workers: usize, run: F) -> Self
    where
        F: Fn(Vec<TakeJob>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (jobs, queue) = mpsc::channel::<TakeJob>(MAX_BATCH * 16);
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
            .send(TakeJob { owner, provider, period, now, reply })
            .await
            .map_err(|_| StoreError::Metering("the metering worker has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Metering("the metering worker dropped a request".into()))?
    }
}

/// Runs `jobs` in rounds of distinct (owner, provider) pairs through `run_round`,
/// which executes one statement and hands back the round with the rows it updated;
/// then answers each job with its row, `None` when none was updated for it, or the
/// round's error.
pub(crate) async fn take_rounds<F, Fut>(mut jobs: Vec<TakeJob>, run_round: F)
where
    F: Fn(Vec<TakeJob>) -> Fut,
    Fut: Future<Output = (Vec<TakeJob>, Result<Vec<CredentialRow>, sqlx::Error>)>,
{
    // One lock order for every statement: no deadlock between instances.
    jobs.sort_by(|a, b| (&a.owner, &a.provider).cmp(&(&b.owner, &b.provider)));
    while !jobs.is_empty() {
        let mut round = Vec::with_capacity(jobs.len());
        let mut later = Vec::new();
        for job in jobs {
            if round.last().is_some_and(|prev: &TakeJob| prev.owner == job.owner && prev.provider == job.provider) {
                later.push(job);
            } else {
                round.push(job);
            }
        }
        jobs = later;
        let (round, outcome) = run_round(round).await;
        match outcome {
            Ok(rows) => {
                let mut by_pair: HashMap<(String, String), CredentialRow> =
                    rows.into_iter().map(|r| ((r.owner.clone(), r.provider.clone()), r)).collect();
                for job in round {
                    let row = by_pair.remove(&(job.owner.clone(), job.provider.clone()));
                    let _ = job.reply.send(Ok(row));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, units = round.len(), "metering statement failed; no unit granted");
                for job in round {
                    let _ = job.reply.send(Err(StoreError::Metering(e.to_string())));
                }
            }
        }
    }
}
