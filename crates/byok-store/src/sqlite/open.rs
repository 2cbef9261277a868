//! Where a `sqlite://` URL points, and how every connection to that file is opened:
//! the readers', the writer's, the migration's and the backup's, with one set of
//! settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// The database file of `sqlite://PATH` (or `sqlite:PATH`); the path is
/// percent-decoded, and a URL with parameters is refused rather than half understood.
pub(crate) fn path_of(url: &str) -> Result<PathBuf, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::UnsupportedUrl("sqlite".into()))?;
    if rest.contains('?') {
        return Err(StoreError::SqliteUrl("a sqlite:// URL takes no parameters: use sqlite://PATH".into()));
    }
    if rest.is_empty() || rest == ":memory:" {
        return Err(StoreError::SqliteUrl("a sqlite:// URL names a file: use sqlite://PATH".into()));
    }
    let path = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .map_err(|_| StoreError::SqliteUrl("the path of a sqlite:// URL is not valid UTF-8".into()))?;
    Ok(PathBuf::from(path.into_owned()))
}

/// Opens (and, with `create`, creates) the file in WAL mode with every commit synced,
/// foreign keys on and statement journals in memory.
pub(crate) fn connection(path: &Path, create: bool) -> Result<Connection, rusqlite::Error> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    // While another process writes in short transactions back to back (rotate-key, an
    // import), SQLite's own busy handler sleeps up to 100 ms between tries and missed
    // the gaps for seconds: resolves timed out. Trying every millisecond takes the first gap.
    conn.busy_handler(Some(retry_each_millisecond))?;
    if create {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// A busy connection's wait: a millisecond, then try again, for up to 10 s.
fn retry_each_millisecond(tries: i32) -> bool {
    std::thread::sleep(Duration::from_millis(1));
    tries < 10_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_files_and_nothing_else() {
        assert_eq!(path_of("sqlite://byok.db").unwrap(), PathBuf::from("byok.db"));
        assert_eq!(path_of("sqlite:///var/lib/byok/byok.db").unwrap(), PathBuf::from("/var/lib/byok/byok.db"));
        assert_eq!(path_of("sqlite:x.db").unwrap(), PathBuf::from("x.db"));
        assert_eq!(path_of("sqlite:///tmp/a%20b.db").unwrap(), PathBuf::from("/tmp/a b.db"));
        for bad in ["sqlite://", "sqlite::memory:", "sqlite://x.db?mode=ro"] {
            assert!(matches!(path_of(bad), Err(StoreError::SqliteUrl(_))), "{bad}");
        }
    }
}
