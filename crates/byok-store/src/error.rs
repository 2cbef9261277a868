use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique constraint refused the change; nothing was written.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A row could not be turned back into domain values.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database URL scheme `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// No connection to PostgreSQL could be had from the pool in time.
    #[error("database error: {0}")]
    Pool(String),
    /// The TLS settings of a PostgreSQL URL (`sslmode`, `sslrootcert`) are unusable.
    #[error("DATABASE_URL: {0}")]
    PgTlsSettings(String),
    /// A TLS connection to PostgreSQL could not be made as `sslmode` demands.
    #[error("PostgreSQL over TLS (sslmode={mode}): {detail}")]
    PgTls { mode: &'static str, detail: String },
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// A `sqlite://` URL that names no file byok can open.
    #[error("DATABASE_URL: {0}")]
    SqliteUrl(String),
    /// A job on a database thread did not come back (the thread panicked or the
    /// runtime is shutting down).
    #[error("{0}")]
    Worker(String),
    #[error("database error: {0}")]
    Postgres(#[source] tokio_postgres::Error),
    /// A batch of metering updates failed; none of its units was granted.
    #[error("metering failed: {0}")]
    Metering(String),
    #[error(
        "byok backup copies SQLite stores only; back up PostgreSQL with pg_dump -Fc -f byok.dump \"$DATABASE_URL\" and restore with pg_restore (README: Backup and restore)"
    )]
    BackupUnsupported,
    #[error("{0} already exists; a backup never overwrites a file")]
    BackupExists(String),
    #[error("cannot write the backup {path}: {source}")]
    BackupFile { path: String, source: std::io::Error },
    #[error("database migration failed: {0}")]
    Migrate(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(failure, message)
                if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                StoreError::Conflict(conflict_reason(message.as_deref().unwrap_or_default()))
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) if *db.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION => {
                StoreError::Conflict(conflict_reason(db.message()))
            }
            _ => StoreError::Postgres(e),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Pool(other.to_string()),
        }
    }
}

impl From<refinery::Error> for StoreError {
    fn from(e: refinery::Error) -> Self {
        StoreError::Migrate(e.to_string())
    }
}

/// Names the constraint in words a caller understands, without echoing values.
fn conflict_reason(message: &str) -> &'static str {
    if message.contains("label") {
        "this owner already has a credential with that provider and label"
    } else {
        "a record with the same unique key already exists"
    }
}
