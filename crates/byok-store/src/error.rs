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
    /// From PostgreSQL; told by the server's message and code, which the driver's own
    /// text ("db error") leaves out, and without its DETAIL (see [`postgres_message`]).
    #[error("database error: {}", postgres_message(.0))]
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

/// A PostgreSQL error as a log line may show it: the server's message and code, but
/// not its DETAIL, which can quote a row's values ("Failing row contains …").
fn postgres_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_postgres_error_is_told_without_the_row_it_quotes() {
        let url = std::env::var("BYOK_TEST_DATABASE_URL")
            .expect("BYOK_TEST_DATABASE_URL is not set: the PostgreSQL tests need it (see README)");
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connects");
        tokio::spawn(connection);
        let failed = client
            .batch_execute("CREATE TEMP TABLE t (a text, b text NOT NULL); INSERT INTO t VALUES ('canary-4711', NULL)")
            .await
            .expect_err("the NULL is refused");
        let detail = failed.as_db_error().and_then(|db| db.detail()).unwrap_or_default().to_owned();
        assert!(detail.contains("canary-4711"), "the server's DETAIL quotes the row: {detail}");
        let told = StoreError::from(failed).to_string();
        assert!(told.contains("null value in column") && told.contains("23502"), "{told}");
        assert!(!told.contains("canary-4711"), "a stored value reached the error's text: {told}");
    }
}
