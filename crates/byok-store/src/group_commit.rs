//! Group commit for metering: concurrent `take_unit` calls are gathered into one
//! transaction, so many units share one commit (one fsync) instead of one each. An
//! answer is sent only after its transaction committed, so every granted unit is
//! durable and counted.

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
