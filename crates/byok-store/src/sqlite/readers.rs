//! The connections that serve reads and the changes made outside the writer thread
//! (an edit with its audit entries, a webhook's delivery): each job runs on a blocking
//! thread with a connection of its own, since rusqlite is synchronous. At most
//! [`CONNECTIONS`] jobs run at once; a connection is opened when first needed and kept.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::StoreError;

/// Most connections open at once (as many as sqlx's pool had).
const CONNECTIONS: usize = 8;

pub(crate) struct Readers {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Semaphore,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path: Arc::new(path), idle: Default::default(), permits: Semaphore::new(CONNECTIONS) }
    }

    /// Runs `job` with a connection on a blocking thread and answers what it returned.
    pub(crate) async fn run<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(|_| StoreError::Worker("the readers are closed".into()))?;
        let idle = self.idle.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let kept = idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut conn = match kept {
                Some(conn) => conn,
                None => reader(&path)?,
            };
            let answer = job(&mut conn);
            // A job's open transaction was rolled back when it was dropped: the
            // connection is clean again.
            idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            answer
        })
        .await
        .map_err(|e| StoreError::Worker(format!("a database job failed: {e}")))?
    }
}

/// A reader re-reads its few B-tree pages with `pread` after another connection's
/// commit: with a memory map, SQLite dropped and faulted back the whole map each time.
fn reader(path: &std::path::Path) -> Result<Connection, rusqlite::Error> {
    let conn = super::open::connection(path, false)?;
    conn.pragma_update(None, "mmap_size", 0)?;
    Ok(conn)
}
