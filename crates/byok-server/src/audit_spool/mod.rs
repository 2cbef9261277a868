//! The spool of the audit entries nobody waits for (`Auditor::submit`: the proxy's uses
//! of credentials without a monthly limit, whose requests go out before their entries
//! are committed). Each entry is placed at once in a chain of its own (the instance's
//! "spool writer" chain) and appended to a local file with one write(2) before `submit`
//! returns, with the requests the use counts (of the credential and of a virtual key
//! without a limit); a task commits the entries to the audit log in batches, off the
//! request's path, each batch with its counts in one transaction. Once written, the file
//! is the kernel's: if byok's process dies, the next start that claims the same spool
//! directory commits whatever the log lacks (an entry's chain and seq say whether it is
//! there), with its counts, before it serves. A power loss can lose what the kernel had
//! not yet written back: the entries and counts of the last batches not yet committed
//! (about 10 ms of proxied uses).
//!
//! Spool directories are `<temp dir>/byok-audit-spool-<n>` (mode 0700, this user's: one
//! that others may enter is passed over), each claimed by one running instance with a
//! lock on its `.lock` file. Only entries of chains this database knows are recovered,
//! so a spool left by another deployment on the same host stays untouched.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use byok_core::{AuditEvent, AuditRecord, Timestamp};
use byok_store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::usage_writer::UsageEvent;

mod dir;
mod line;

pub use dir::SpoolDir;
pub(crate) use line::UseCounts;
use line::{LineOut, Spooled};

/// How long spooled entries wait for company before they are committed.
const GATHER: Duration = Duration::from_millis(10);
const MAX_BATCH: usize = 512;
/// A spool file is closed (and removed once committed) past this size.
const SEGMENT_BYTES: u64 = 4 << 20;
/// How many spool directories an instance tries before it gives up.
const SLOTS: u32 = 1024;

/// Why the spool could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("audit spool {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("no free audit spool directory under {0} ({SLOTS} are in use)")]
    NoSlot(PathBuf),
    #[error("audit spool recovery: {0}")]
    Store(#[from] byok_store::StoreError),
}

/// Lines gathered for one transaction.
#[derive(Default)]
struct Batch {
    records: Vec<AuditRecord>,
    counts: Vec<UseCounts>,
    /// The number of the batch's last line.
    line: i64,
}

impl Batch {
    fn add(&mut self, spooled: Spooled) {
        self.records.extend(spooled.record);
        self.counts.extend(spooled.counts);
        self.line = self.line.max(spooled.line);
    }

    /// Appends the records, adds what the lines count and marks `chain`'s spool
    /// committed through the last line, in one transaction.
    async fn commit(&self, store: &dyn Store, chain: &str) -> Result<(), StoreError> {
        commit(store, &self.records, &self.counts, Some((chain, self.line))).await
    }
}

/// Appends `records` and adds what `counts` count, in one transaction, with a spool's
/// `mark` if they come from one.
pub(crate) async fn commit(
    store: &dyn Store,
    records: &[AuditRecord],
    counts: &[UseCounts],
    mark: Option<(&str, i64)>,
) -> Result<(), StoreError> {
    if counts.is_empty() && mark.is_none() {
        return store.append_audit(records).await;
    }
    // A batch that spans the start of a period is counted in the newer one, as the
    // usage writer counts its batches.
    let period = counts.iter().map(|c| c.period).max().unwrap_or_default();
    let at = counts.iter().map(|c| c.at).chain(records.iter().map(|r| r.at.millis())).max().unwrap_or_default();
    let events: Vec<UsageEvent> = counts.iter().map(|c| c.event).collect();
    let usage = crate::usage_writer::fold(&events);
    store.append_counted_audit(records, &usage, Timestamp::from_millis(period), Timestamp::from_millis(at), mark).await
}

enum Message {
    Line(Box<Spooled>),
    /// Say so once everything spooled before it is committed.
    Flush(oneshot::Sender<()>),
}

struct Open {
    /// The chain's newest record, spooled or committed.
    last: AuditRecord,
    /// The number of the newest line written.
    line: i64,
    file: File,
    path: PathBuf,
    bytes: u64,
    segment: u64,
    /// Closed files and the last line each holds, removed once that line is committed.
    closed: Vec<(PathBuf, i64)>,
}

/// The spool's chain, its current file and the task that commits it.
pub struct Spool {
    dir: SpoolDir,
    open: Mutex<Open>,
    committer: mpsc::UnboundedSender<Message>,
}

impl Spool {
    /// Starts a spool in `dir` after `genesis` (already committed) and its committing task.
    pub(crate) fn start(dir: SpoolDir, genesis: AuditRecord, store: Arc<dyn Store>) -> Result<Arc<Spool>, SpoolError> {
        let path = segment_path(dir.path(), &genesis.chain, 0);
        let chain = genesis.chain.clone();
        let file = open_append(&path).map_err(|e| SpoolError::Io(path.clone(), e))?;
        let (committer, queue) = mpsc::unbounded_channel();
        let spool = Arc::new(Spool {
            dir,
            open: Mutex::new(Open { last: genesis, line: 0, file, path, bytes: 0, segment: 0, closed: Vec::new() }),
            committer,
        });
        tokio::spawn(commit_loop(queue, store, Arc::downgrade(&spool), chain));
        Ok(spool)
    }

    /// Chains `event` with `chain`, writes it with `counts` to the spool file and queues
    /// both for commit, in that order, under one lock (so the file and the queue keep
    /// line order).
    pub(crate) fn append(
        &self,
        event: AuditEvent,
        counts: Option<UseCounts>,
        chain: impl FnOnce(&AuditRecord, AuditEvent) -> AuditRecord,
    ) -> std::io::Result<()> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let record = chain(&open.last, event);
        let line = open.line + 1;
        self.write(&mut open, &LineOut::entry(line, &record, counts))?;
        // What the next record chains from: the chain, seq and MAC (not the event).
        let (chain, mac) = (record.chain.clone(), record.mac.clone());
        open.last = AuditRecord { chain, seq: record.seq, at: record.at, event: AuditEvent::default(), mac };
        self.queue(&mut open, Spooled { line, record: Some(record), counts })
    }

    /// Writes `counts` alone (an answer's tokens) to the spool file and queues them for
    /// commit, under the same lock.
    pub(crate) fn count(&self, counts: UseCounts) -> std::io::Result<()> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let line = open.line + 1;
        let chain = open.last.chain.clone();
        self.write(&mut open, &LineOut::counts(&chain, line, counts))?;
        self.queue(&mut open, Spooled { line, record: None, counts: Some(counts) })
    }

    /// Appends one line to the spool file with one write(2).
    fn write(&self, open: &mut Open, line: &LineOut<'_>) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(line).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        open.file.write_all(&bytes)?;
        open.bytes += bytes.len() as u64;
        open.line = line.line;
        Ok(())
    }

    /// Hands a written line to the committer; past the segment size, the next line goes
    /// to a new file.
    fn queue(&self, open: &mut Open, spooled: Spooled) -> std::io::Result<()> {
        self.committer
            .send(Message::Line(Box::new(spooled)))
            .map_err(|_| std::io::Error::other("the audit spool's committer stopped"))?;
        if open.bytes >= SEGMENT_BYTES
            && let Err(e) = self.next_segment(open)
        {
            tracing::warn!(error = %e, "a new audit spool file could not be opened; the current one grows");
        }
        Ok(())
    }

    fn next_segment(&self, open: &mut Open) -> std::io::Result<()> {
        let segment = open.segment + 1;
        let path = segment_path(self.dir.path(), &open.last.chain, segment);
        let file = open_append(&path)?;
        let closed = std::mem::replace(&mut open.path, path);
        open.closed.push((closed, open.line));
        open.file = file;
        open.bytes = 0;
        open.segment = segment;
        Ok(())
    }

    /// Every line up to `line` is committed: closed files it covers go, and the open one
    /// starts over when nothing in it waits.
    fn committed(&self, line: i64) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.closed.retain(|(path, last)| {
            if *last > line {
                return true;
            }
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(file = %path.display(), error = %e, "a committed audit spool file could not be removed");
            }
            false
        });
        if open.line == line && open.bytes > 0 {
            match open.file.set_len(0) {
                Ok(()) => open.bytes = 0,
                Err(e) => tracing::warn!(error = %e, "the audit spool file could not start over"),
            }
        }
    }

    /// Waits until everything spooled so far is committed.
    pub(crate) async fn flush(&self) {
        let (done, committed) = oneshot::channel();
        if self.committer.send(Message::Flush(done)).is_ok() {
            let _ = committed.await;
        }
    }
}

impl Drop for Spool {
    /// A spool file that holds nothing uncommitted goes with its spool.
    fn drop(&mut self) {
        let open = self.open.get_mut().unwrap_or_else(|p| p.into_inner());
        if open.bytes == 0 && open.closed.is_empty() {
            let _ = std::fs::remove_file(&open.path);
        }
    }
}

fn segment_path(dir: &Path, chain: &str, segment: u64) -> PathBuf {
    dir.join(format!("{chain}-{segment:06}.spool"))
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Commits spooled lines in batches, in order, each batch's records, counts and mark in
/// one transaction; a failed batch is tried again (its lines stay in the spool file
/// meanwhile) so that the chain keeps no gap.
async fn commit_loop(
    mut queue: mpsc::UnboundedReceiver<Message>,
    store: Arc<dyn Store>,
    spool: std::sync::Weak<Spool>,
    chain: String,
) {
    while let Some(first) = queue.recv().await {
        let (mut batch, mut lines, mut flushes) = (Batch::default(), 0, Vec::new());
        match first {
            Message::Line(spooled) => {
                batch.add(*spooled);
                lines += 1;
                tokio::time::sleep(GATHER).await;
            }
            Message::Flush(done) => flushes.push(done),
        }
        while lines < MAX_BATCH {
            match queue.try_recv() {
                Ok(Message::Line(spooled)) => {
                    batch.add(*spooled);
                    lines += 1;
                }
                Ok(Message::Flush(done)) => flushes.push(done),
                Err(_) => break,
            }
        }
        if lines > 0 {
            while let Err(e) = batch.commit(store.as_ref(), &chain).await {
                tracing::error!(error = %e, lines, "spooled audit entries and counts could not be committed; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            if let Some(spool) = spool.upgrade() {
                spool.committed(batch.line);
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
