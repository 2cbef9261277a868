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
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The TLS settings of a PostgreSQL URL (`sslmode`, `sslrootcert`) are unusable.
    #[error("DATABASE_URL: {0}")]
    PgTlsSettings(String),
    /// A TLS connection to PostgreSQL could not be made as `sslmode` demands.
    #[error("PostgreSQL over TLS (sslmode={mode}): {detail}")]
    PgTls { mode: &'static str, detail: String },
    /// From the SQLite writer's own connection (see `sqlite_writer`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// From a PostgreSQL metering writer's own connection (see `pg_writer`).
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
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
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(conflict_reason(db.message()))
            }
            _ => StoreError::Database(e),
        }
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
