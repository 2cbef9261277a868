//! SQLite's migrations (see `crate::migrations`).

use refinery::Target;
use rusqlite::{Connection, OptionalExtension};

use crate::StoreError;

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// Brings the database to this build's schema.
pub(crate) fn run(conn: &mut Connection) -> Result<(), StoreError> {
    if has_table(conn, "_sqlx_migrations")? && !has_table(conn, "refinery_schema_history")? {
        let history = conn
            .prepare("SELECT version, success FROM _sqlx_migrations ORDER BY version")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(last) = crate::migrations::adopted_version(&history, &embedded::migrations::runner())? {
            embedded::migrations::runner().set_target(Target::FakeVersion(last)).run(conn)?;
        }
    }
    embedded::migrations::runner().run(conn)?;
    Ok(())
}

fn has_table(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    let found = conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |_| Ok(()))
        .optional()?;
    Ok(found.is_some())
}
