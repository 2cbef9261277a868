//! A consistent copy of a store taken while byok serves from it. SQLite: `VACUUM INTO`
//! a new file, one read transaction in WAL mode, so the copy is one committed state and
//! writers carry on meanwhile. PostgreSQL has its own tools (`pg_dump`).
//!
//! The source is opened as it is: never created, never migrated, so a newer binary's
//! backup taken before an upgrade is still the previous release's database.

use std::path::{Path, PathBuf};

use crate::StoreError;
use crate::sqlite::open;

/// Copies the SQLite database `url` names into `dest`, which must not exist (it is
/// never overwritten); returns the copy's size in bytes. A failed copy leaves no file.
pub async fn backup(url: &str, dest: &Path) -> Result<u64, StoreError> {
    match crate::engine_of(url)? {
        crate::Engine::Postgres => Err(StoreError::BackupUnsupported),
        crate::Engine::Sqlite => {
            let (source, dest) = (open::path_of(url)?, dest.to_owned());
            tokio::task::spawn_blocking(move || sqlite_backup(&source, &dest))
                .await
                .map_err(|e| StoreError::Worker(format!("the backup stopped: {e}")))?
        }
    }
}

fn sqlite_backup(source: &Path, dest: &PathBuf) -> Result<u64, StoreError> {
    let name = dest.display().to_string();
    let dest_text = dest.to_str().ok_or_else(|| StoreError::BackupFile {
        path: name.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path is not valid UTF-8"),
    })?;
    let source = open::connection(source, false)?;
    // Claimed atomically, so nothing that appears meanwhile is overwritten or removed;
    // VACUUM INTO accepts an empty file.
    std::fs::OpenOptions::new().write(true).create_new(true).open(dest).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            StoreError::BackupExists(name.clone())
        } else {
            StoreError::BackupFile { path: name.clone(), source }
        }
    })?;
    let copied = (|| {
        source.execute("VACUUM INTO ?1", [dest_text])?;
        let file = std::fs::File::open(dest).map_err(|source| StoreError::BackupFile { path: name.clone(), source })?;
        file.sync_all().map_err(|source| StoreError::BackupFile { path: name.clone(), source })?;
        let size = file.metadata().map_err(|source| StoreError::BackupFile { path: name.clone(), source })?.len();
        Ok::<u64, StoreError>(size)
    })();
    if copied.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    copied
}
