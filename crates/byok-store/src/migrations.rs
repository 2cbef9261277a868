//! What both engines' migrations share. Each engine's folder (`migrations/sqlite`,
//! `migrations/postgres`) is embedded and applied by refinery. Databases made before
//! refinery recorded their migrations in sqlx's `_sqlx_migrations`: the first start on
//! such a database records those same migrations in refinery's history, without running
//! them again, and then applies the ones that follow.

use refinery::Runner;

use crate::StoreError;

/// The last version of a sqlx history (`(version, success)` rows, by version) that
/// refinery should record as applied, after checking that it is exactly this build's
/// migrations up to that version, each finished.
pub(crate) fn adopted_version(sqlx_history: &[(i64, bool)], runner: &Runner) -> Result<Option<i32>, StoreError> {
    let Some(&(last, _)) = sqlx_history.last() else { return Ok(None) };
    if let Some((version, _)) = sqlx_history.iter().find(|(_, success)| !success) {
        return Err(StoreError::Migrate(format!(
            "migration {version} of the previous runner did not finish; restore the database from a backup"
        )));
    }
    let mut known: Vec<i64> =
        runner.get_migrations().iter().map(|m| i64::from(m.version())).filter(|v| *v <= last).collect();
    known.sort_unstable();
    let applied: Vec<i64> = sqlx_history.iter().map(|(v, _)| *v).collect();
    if known != applied {
        return Err(StoreError::Migrate(format!(
            "the database records migrations {applied:?} and this byok knows {known:?} up to {last}: \
             a newer byok wrote it, or it is not byok's"
        )));
    }
    let last =
        i32::try_from(last).map_err(|_| StoreError::Migrate(format!("migration version {last} is out of range")))?;
    Ok(Some(last))
}

#[cfg(test)]
mod tests {
    use refinery::Migration;

    use super::*;

    fn runner(versions: &[i32]) -> Runner {
        let migrations: Vec<Migration> =
            versions.iter().map(|v| Migration::unapplied(&format!("V{v}__m{v}"), "SELECT 1").unwrap()).collect();
        Runner::new(&migrations)
    }

    #[test]
    fn a_finished_history_of_this_builds_migrations_is_adopted_up_to_its_last() {
        let known = runner(&[10, 11, 1, 2, 3, 4, 12]);
        let history = [(1, true), (2, true), (3, true), (4, true), (10, true), (11, true)];
        assert_eq!(adopted_version(&history, &known).unwrap(), Some(11));
        assert_eq!(adopted_version(&[], &known).unwrap(), None, "nothing to adopt");
    }

    #[test]
    fn an_unfinished_or_foreign_history_is_refused_with_its_reason() {
        let known = runner(&[1, 2, 3]);
        let unfinished = adopted_version(&[(1, true), (2, false)], &known).unwrap_err().to_string();
        assert!(unfinished.contains("migration 2 of the previous runner did not finish"), "{unfinished}");
        let newer = adopted_version(&[(1, true), (2, true), (3, true), (4, true)], &known).unwrap_err().to_string();
        assert!(newer.contains("records migrations [1, 2, 3, 4] and this byok knows [1, 2, 3]"), "{newer}");
        let gap = adopted_version(&[(1, true), (3, true)], &known).unwrap_err().to_string();
        assert!(gap.contains("a newer byok wrote it, or it is not byok's"), "{gap}");
    }
}
