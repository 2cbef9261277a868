//! Spool directories: claimed one per running instance, private to this user, and
//! recovered at start (what an earlier process left is committed, then removed).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use byok_store::Store;

use super::line::{Spooled, read_spooled};
use super::{Batch, MAX_BATCH, SLOTS, SpoolError};

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

#[cfg(test)]
mod tests {
    use super::*;

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
