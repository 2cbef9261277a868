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

use byok_core::{AuditEvent, AuditRecord, Timestamp};
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

/// What one spooled line counts: a use's requests and tokens, as the usage writer would
/// count them, at `at` in the usage period starting at `period` (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UseCounts {
    pub event: UsageEvent,
    pub period: i64,
    pub at: i64,
}

/// A line of the spool: a chained audit record with what its use counts, or counts alone
/// (an answer's tokens); `line` numbers a chain's lines from 1 (0: written by a build
/// that did not number them).
#[derive(Debug, Clone, PartialEq)]
struct Spooled {
    line: i64,
    record: Option<AuditRecord>,
    counts: Option<UseCounts>,
}

/// One line of a spool file, as read back (a record's MAC in hex).
#[derive(Deserialize)]
struct Line {
    chain: String,
    #[serde(default)]
    line: i64,
    seq: Option<i64>,
    at: Option<i64>,
    event: Option<AuditEvent>,
    mac: Option<String>,
    #[serde(default)]
    counts: Option<UseCounts>,
}

/// [`Line`] as written, borrowing the record.
#[derive(Serialize)]
struct LineOut<'a> {
    chain: &'a str,
    line: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a AuditEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<UseCounts>,
}

impl<'a> LineOut<'a> {
    fn entry(line: i64, r: &'a AuditRecord, counts: Option<UseCounts>) -> Self {
        Self {
            chain: &r.chain,
            line,
            seq: Some(r.seq),
            at: Some(r.at.millis()),
            event: Some(&r.event),
            mac: Some(hex::encode(&r.mac)),
            counts,
        }
    }

    fn counts(chain: &'a str, line: i64, counts: UseCounts) -> Self {
        Self { chain, line, seq: None, at: None, event: None, mac: None, counts: Some(counts) }
    }
}

impl Line {
    fn spooled(self) -> Option<(String, Spooled)> {
        let record = match (self.seq, self.at, self.event, self.mac) {
            (Some(seq), Some(at), Some(event), Some(mac)) => Some(AuditRecord {
                chain: self.chain.clone(),
                seq,
                at: Timestamp::from_millis(at),
                event,
                mac: hex::decode(mac).ok()?,
            }),
            (None, None, None, None) if self.counts.is_some() => None,
            _ => return None,
        };
        Some((self.chain, Spooled { line: self.line, record, counts: self.counts }))
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

/// The lines of a spool file with their chains; a torn last line (a power loss
/// mid-write) is skipped.
fn read_spooled(path: &Path) -> std::io::Result<Vec<(String, Spooled)>> {
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

/// Commits the lines the database lacks: entries whose (chain, seq) the audit log does
/// not hold, with their counts (an entry there was counted with it), and counts-only
/// lines past the chain's mark.
async fn commit_missing(store: &dyn Store, spooled: Vec<(String, Spooled)>) -> Result<usize, SpoolError> {
    let mut by_chain: BTreeMap<String, Vec<Spooled>> = BTreeMap::new();
    for (chain, line) in spooled {
        by_chain.entry(chain).or_default().push(line);
    }
    let mut committed = 0;
    for (chain, lines) in by_chain {
        let mark = store.spool_mark(&chain).await?.unwrap_or(0);
        let seqs: Vec<i64> = lines.iter().filter_map(|l| l.record.as_ref().map(|r| r.seq)).collect();
        let present: std::collections::HashSet<i64> = match seqs.iter().min() {
            Some(first) => {
                let limit = u32::try_from(seqs.len()).unwrap_or(u32::MAX);
                store.audit_chain_entries(&chain, first - 1, limit).await?.into_iter().map(|r| r.seq).collect()
            }
            None => Default::default(),
        };
        let missing: Vec<Spooled> = lines
            .into_iter()
            .filter(|l| match &l.record {
                Some(record) => !present.contains(&record.seq),
                None => l.line > mark,
            })
            .collect();
        for part in missing.chunks(MAX_BATCH) {
            let mut batch = Batch::default();
            for line in part {
                batch.add(line.clone());
            }
            batch.commit(store, &chain).await?;
            committed += part.len();
        }
    }
    Ok(committed)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64) -> AuditRecord {
        let event = AuditEvent { action: "credential.proxy".into(), outcome: "ok".into(), ..AuditEvent::default() };
        AuditRecord { chain: "c".into(), seq, at: Timestamp::from_millis(seq), event, mac: vec![seq as u8; 32] }
    }

    #[test]
    fn a_spool_file_reads_back_its_lines_and_skips_a_torn_last_line() {
        let path = std::env::temp_dir().join(format!("byok-spool-test-{}.spool", uuid::Uuid::new_v4().simple()));
        let event = UsageEvent {
            credential: Some(byok_core::CredentialId::new()),
            count_credential: true,
            virtual_key: Some(byok_core::TokenId::new()),
            count_request: false,
            tokens: 42,
        };
        let counts = UseCounts { event, period: 7, at: 9 };
        let written = [
            Spooled { line: 1, record: Some(record(2)), counts: None },
            Spooled { line: 2, record: Some(record(3)), counts: Some(counts) },
            Spooled { line: 3, record: None, counts: Some(counts) },
        ];
        let mut text = Vec::new();
        for spooled in &written {
            let line = match &spooled.record {
                Some(record) => LineOut::entry(spooled.line, record, spooled.counts),
                None => LineOut::counts("c", spooled.line, counts),
            };
            text.extend(serde_json::to_vec(&line).unwrap());
            text.push(b'\n');
        }
        let torn = serde_json::to_vec(&LineOut::entry(4, &record(4), Some(counts))).unwrap();
        text.extend(&torn[..torn.len() / 2]);
        std::fs::write(&path, text).unwrap();
        let spooled = read_spooled(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let expected: Vec<(String, Spooled)> = written.iter().map(|s| ("c".to_owned(), s.clone())).collect();
        assert_eq!(spooled, expected, "whole lines come back as written, MACs and counts included");
    }

    #[test]
    fn a_line_of_a_build_that_did_not_number_lines_reads_as_line_0() {
        let old = r#"{"chain":"c","seq":5,"at":5,"event":{"actor_role":"virtual","action":"credential.proxy","outcome":"ok"},"mac":"0505"}"#;
        let (chain, spooled) = serde_json::from_str::<Line>(old).unwrap().spooled().unwrap();
        assert_eq!((chain.as_str(), spooled.line, spooled.counts), ("c", 0, None));
        assert_eq!(spooled.record.map(|r| (r.seq, r.mac)), Some((5, vec![5, 5])));
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
