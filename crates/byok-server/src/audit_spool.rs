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

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use byok_core::{AuditEvent, AuditRecord, CredentialId, Timestamp, TokenId};
use byok_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::usage_writer::UsageEvent;

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

/// The requests one spooled use counts: of its credential and of its virtual key, each
/// when it has no limit (a limit's unit was taken before the request went out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UseCounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_key: Option<TokenId>,
    /// The start of the usage period of the use (milliseconds).
    pub period: i64,
}

impl UseCounts {
    /// The requests counted, as the usage writer counts a use.
    fn event(&self) -> UsageEvent {
        UsageEvent {
            credential: self.credential,
            count_credential: self.credential.is_some(),
            virtual_key: self.virtual_key,
            count_request: self.virtual_key.is_some(),
            tokens: 0,
        }
    }
}

/// An entry in the spool: its chained record and what it counts.
#[derive(Debug, Clone, PartialEq)]
struct Spooled {
    record: AuditRecord,
    counts: Option<UseCounts>,
}

/// One line of a spool file, as read back: a chained record, its MAC in hex.
#[derive(Deserialize)]
struct Line {
    chain: String,
    seq: i64,
    at: i64,
    event: AuditEvent,
    mac: String,
    #[serde(default)]
    counts: Option<UseCounts>,
}

/// [`Line`] as written, borrowing the record.
#[derive(Serialize)]
struct LineOut<'a> {
    chain: &'a str,
    seq: i64,
    at: i64,
    event: &'a AuditEvent,
    mac: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<UseCounts>,
}

impl<'a> LineOut<'a> {
    fn new(r: &'a AuditRecord, counts: Option<UseCounts>) -> Self {
        Self { chain: &r.chain, seq: r.seq, at: r.at.millis(), event: &r.event, mac: hex::encode(&r.mac), counts }
    }
}

impl Line {
    fn spooled(self) -> Option<Spooled> {
        let mac = hex::decode(&self.mac).ok()?;
        let record = AuditRecord {
            chain: self.chain,
            seq: self.seq,
            at: Timestamp::from_millis(self.at),
            event: self.event,
            mac,
        };
        Some(Spooled { record, counts: self.counts })
    }
}

/// A spool directory this process holds (its lock lives as long as the file is open).
pub struct SpoolDir {
    path: PathBuf,
    _lock: File,
}

impl SpoolDir {
    /// Claims the first free `byok-audit-spool-<n>` under `base`.
    pub fn claim(base: &Path) -> Result<SpoolDir, SpoolError> {
        for n in 0..SLOTS {
            let path = base.join(format!("byok-audit-spool-{n}"));
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&path)
                .map_err(|e| SpoolError::Io(path.clone(), e))?;
            if !private_to_us(&path) {
                continue;
            }
            let lock_path = path.join(".lock");
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(|e| SpoolError::Io(lock_path.clone(), e))?;
            match lock.try_lock() {
                Ok(()) => return Ok(SpoolDir { path, _lock: lock }),
                Err(std::fs::TryLockError::WouldBlock) => continue,
                Err(std::fs::TryLockError::Error(e)) => return Err(SpoolError::Io(lock_path, e)),
            }
        }
        Err(SpoolError::NoSlot(base.to_owned()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commits what the audit log lacks of the spool files of this database's chains,
    /// then removes those files. Answers how many entries it committed.
    pub async fn recover(&self, store: &dyn Store) -> Result<usize, SpoolError> {
        let known: std::collections::HashSet<String> = store.audit_chains().await?.into_iter().collect();
        let mut recovered = 0;
        for file in self.spool_files()? {
            let chain = file.file_stem().and_then(|s| s.to_str()).and_then(|s| s.rsplit_once('-')).map(|(c, _)| c);
            if !chain.is_some_and(|c| known.contains(c)) {
                continue;
            }
            let spooled = read_spooled(&file).map_err(|e| SpoolError::Io(file.clone(), e))?;
            recovered += commit_missing(store, spooled).await?;
            std::fs::remove_file(&file).map_err(|e| SpoolError::Io(file.clone(), e))?;
        }
        Ok(recovered)
    }

    fn spool_files(&self) -> Result<Vec<PathBuf>, SpoolError> {
        let entries = std::fs::read_dir(&self.path).map_err(|e| SpoolError::Io(self.path.clone(), e))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "spool"))
            .collect();
        files.sort();
        Ok(files)
    }
}

/// Whether `dir` belongs to this process's user and nobody else may enter it: a
/// directory someone else made could hold planted spool files.
fn private_to_us(dir: &Path) -> bool {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (Ok(dir), Ok(me)) = (std::fs::metadata(dir), std::fs::metadata("/proc/self")) else {
        return false;
    };
    dir.uid() == me.uid() && dir.permissions().mode() & 0o077 == 0
}

/// The entries of a spool file; a torn last line (a power loss mid-write) is skipped.
fn read_spooled(path: &Path) -> std::io::Result<Vec<Spooled>> {
    let file = File::open(path)?;
    let mut spooled = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        match serde_json::from_str::<Line>(&line?).ok().and_then(Line::spooled) {
            Some(entry) => spooled.push(entry),
            None => tracing::warn!(file = %path.display(), "an unreadable audit spool line was skipped"),
        }
    }
    Ok(spooled)
}

/// Appends the entries whose (chain, seq) the audit log does not hold yet, with their
/// counts (an entry already there was counted with it).
async fn commit_missing(store: &dyn Store, spooled: Vec<Spooled>) -> Result<usize, SpoolError> {
    let mut by_chain: BTreeMap<String, Vec<Spooled>> = BTreeMap::new();
    for entry in spooled {
        by_chain.entry(entry.record.chain.clone()).or_default().push(entry);
    }
    let mut committed = 0;
    for (chain, mut entries) in by_chain {
        entries.sort_by_key(|e| e.record.seq);
        let first = entries[0].record.seq;
        let limit = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        let present: std::collections::HashSet<i64> =
            store.audit_chain_entries(&chain, first - 1, limit).await?.into_iter().map(|r| r.seq).collect();
        entries.retain(|e| !present.contains(&e.record.seq));
        for part in entries.chunks(MAX_BATCH) {
            let records: Vec<AuditRecord> = part.iter().map(|e| e.record.clone()).collect();
            let counts: Vec<UseCounts> = part.iter().filter_map(|e| e.counts).collect();
            commit(store, &records, &counts).await?;
            committed += part.len();
        }
    }
    Ok(committed)
}

/// Appends `records` and adds the requests `counts` (theirs) count, in one transaction.
pub(crate) async fn commit(store: &dyn Store, records: &[AuditRecord], counts: &[UseCounts]) -> Result<(), StoreError> {
    // A batch that spans the start of a period is counted in the newer one, as the
    // usage writer counts its batches.
    match counts.iter().map(|c| c.period).max() {
        None => store.append_audit(records).await,
        Some(period) => {
            let now = records.last().map_or(Timestamp::from_millis(period), |r| r.at);
            let events: Vec<UsageEvent> = counts.iter().map(UseCounts::event).collect();
            let usage = crate::usage_writer::fold(&events);
            store.append_counted_audit(records, &usage, Timestamp::from_millis(period), now).await
        }
    }
}

enum Message {
    Entry(Box<Spooled>),
    /// Say so once everything spooled before it is committed.
    Flush(oneshot::Sender<()>),
}

struct Open {
    /// The chain's newest record, spooled or committed.
    last: AuditRecord,
    file: File,
    path: PathBuf,
    bytes: u64,
    segment: u64,
    /// Closed files and the last seq each holds, removed once that seq is committed.
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
        let file = open_append(&path).map_err(|e| SpoolError::Io(path.clone(), e))?;
        let (committer, queue) = mpsc::unbounded_channel();
        let spool = Arc::new(Spool {
            dir,
            open: Mutex::new(Open { last: genesis, file, path, bytes: 0, segment: 0, closed: Vec::new() }),
            committer,
        });
        tokio::spawn(commit_loop(queue, store, Arc::downgrade(&spool)));
        Ok(spool)
    }

    /// Chains `event` with `chain`, writes it with `counts` to the spool file and queues
    /// both for commit, in that order, under one lock (so the file and the queue keep
    /// seq order).
    pub(crate) fn append(
        &self,
        event: AuditEvent,
        counts: Option<UseCounts>,
        chain: impl FnOnce(&AuditRecord, AuditEvent) -> AuditRecord,
    ) -> std::io::Result<()> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let record = chain(&open.last, event);
        let mut line = serde_json::to_vec(&LineOut::new(&record, counts)).map_err(std::io::Error::other)?;
        line.push(b'\n');
        open.file.write_all(&line)?;
        open.bytes += line.len() as u64;
        // What the next record chains from: the chain, seq and MAC (not the event).
        let (chain, mac) = (record.chain.clone(), record.mac.clone());
        open.last = AuditRecord { chain, seq: record.seq, at: record.at, event: AuditEvent::default(), mac };
        self.committer
            .send(Message::Entry(Box::new(Spooled { record, counts })))
            .map_err(|_| std::io::Error::other("the audit spool's committer stopped"))?;
        if open.bytes >= SEGMENT_BYTES
            && let Err(e) = self.next_segment(&mut open)
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
        open.closed.push((closed, open.last.seq));
        open.file = file;
        open.bytes = 0;
        open.segment = segment;
        Ok(())
    }

    /// Everything up to `seq` is committed: closed files it covers go, and the open one
    /// starts over when nothing in it waits.
    fn committed(&self, seq: i64) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.closed.retain(|(path, last)| {
            if *last > seq {
                return true;
            }
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(file = %path.display(), error = %e, "a committed audit spool file could not be removed");
            }
            false
        });
        if open.last.seq == seq && open.bytes > 0 {
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

/// Commits spooled entries in batches, in order, each with its counts; a failed batch is
/// tried again (its entries stay in the spool file meanwhile) so that the chain keeps no
/// gap.
async fn commit_loop(
    mut queue: mpsc::UnboundedReceiver<Message>,
    store: Arc<dyn Store>,
    spool: std::sync::Weak<Spool>,
) {
    while let Some(first) = queue.recv().await {
        let (mut records, mut counts, mut flushes) = (Vec::new(), Vec::new(), Vec::new());
        match first {
            Message::Entry(entry) => {
                records.push(entry.record);
                counts.extend(entry.counts);
                tokio::time::sleep(GATHER).await;
            }
            Message::Flush(done) => flushes.push(done),
        }
        while records.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(Message::Entry(entry)) => {
                    records.push(entry.record);
                    counts.extend(entry.counts);
                }
                Ok(Message::Flush(done)) => flushes.push(done),
                Err(_) => break,
            }
        }
        if let Some(last) = records.last().map(|r| r.seq) {
            while let Err(e) = commit(store.as_ref(), &records, &counts).await {
                tracing::error!(error = %e, entries = records.len(), "spooled audit entries could not be committed; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            if let Some(spool) = spool.upgrade() {
                spool.committed(last);
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64) -> AuditRecord {
        let event = AuditEvent { action: "credential.proxy".into(), outcome: "ok".into(), ..AuditEvent::default() };
        AuditRecord { chain: "c".into(), seq, at: Timestamp::from_millis(seq), event, mac: vec![seq as u8; 32] }
    }

    #[test]
    fn a_spool_file_reads_back_its_entries_and_skips_a_torn_last_line() {
        let path = std::env::temp_dir().join(format!("byok-spool-test-{}.spool", uuid::Uuid::new_v4().simple()));
        let counts = UseCounts { credential: Some(CredentialId::new()), virtual_key: Some(TokenId::new()), period: 7 };
        let written =
            [Spooled { record: record(2), counts: None }, Spooled { record: record(3), counts: Some(counts) }];
        let mut text = Vec::new();
        for entry in &written {
            text.extend(serde_json::to_vec(&LineOut::new(&entry.record, entry.counts)).unwrap());
            text.push(b'\n');
        }
        let torn = serde_json::to_vec(&LineOut::new(&record(4), Some(counts))).unwrap();
        text.extend(&torn[..torn.len() / 2]);
        std::fs::write(&path, text).unwrap();
        let spooled = read_spooled(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(spooled, written, "whole lines come back as written, MACs and counts included");
    }

    #[test]
    fn a_spool_directory_others_may_enter_is_passed_over() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("byok-spool-base-{}", uuid::Uuid::new_v4().simple()));
        let open_to_all = base.join("byok-audit-spool-0");
        std::fs::create_dir_all(&open_to_all).unwrap();
        std::fs::set_permissions(&open_to_all, std::fs::Permissions::from_mode(0o777)).unwrap();
        let first = SpoolDir::claim(&base).unwrap();
        let second = SpoolDir::claim(&base).unwrap();
        assert_eq!(first.path(), base.join("byok-audit-spool-1"), "slot 0 is not private");
        assert_eq!(second.path(), base.join("byok-audit-spool-2"), "slot 1 is locked by the first claim");
        drop((first, second));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
