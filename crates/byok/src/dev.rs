//! `--dev`: a local master key and database for a first run, created when absent.

use std::io::Write;
use std::path::{Path, PathBuf};

use byok_crypto::generate_master_key_hex;

use crate::config::Config;

pub const DEV_DIR: &str = ".byok";

/// Fills in the master key (from `./.byok/master.key`, created with mode 0600 if
/// missing) and the database (`./.byok/byok.db`) where the settings give none.
pub fn apply(config: &mut Config, base: &Path) -> std::io::Result<Vec<String>> {
    let dir = base.join(DEV_DIR);
    std::fs::create_dir_all(&dir)?;
    let mut notes = Vec::new();
    if config.master_key.is_none() && config.master_keys.is_none() {
        let key_path = dir.join("master.key");
        if !key_path.exists() {
            write_private(&key_path, generate_master_key_hex().as_bytes())?;
            notes.push(format!("created a development master key in {}", key_path.display()));
        }
        config.master_key = Some(std::fs::read_to_string(&key_path)?.trim().to_owned());
    }
    if !config.database_url_given {
        let db: PathBuf = dir.join("byok.db");
        config.database_url = format!("sqlite://{}", db.display());
        config.database_url_given = true;
    }
    Ok(notes)
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.write_all(b"\n")
}

/// The loud warning `--dev` prints.
pub const WARNING: &str = "\
*****************************************************************************
*  DEVELOPMENT MODE (--dev): the master key is a file next to the database   *
*  in ./.byok/. Anyone who can read that folder can read every secret.       *
*  Never use --dev in production: set BYOK_MASTER_KEY from `byok keygen`.    *
*****************************************************************************";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Layer;

    #[test]
    fn creates_a_private_key_once_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::from_layer(Layer::default()).unwrap();
        let notes = apply(&mut config, dir.path()).unwrap();
        assert_eq!(notes.len(), 1);
        let key = config.master_key.clone().unwrap();
        assert_eq!(key.len(), 64);
        assert!(config.database_url.ends_with(".byok/byok.db"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(".byok/master.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut again = Config::from_layer(Layer::default()).unwrap();
        assert!(apply(&mut again, dir.path()).unwrap().is_empty());
        assert_eq!(again.master_key.unwrap(), key);
    }

    #[test]
    fn an_explicit_key_and_database_win() {
        let dir = tempfile::tempdir().unwrap();
        let layer =
            Layer { master_key: Some("ab".repeat(32)), database_url: Some("sqlite://x.db".into()), ..Layer::default() };
        let mut config = Config::from_layer(layer).unwrap();
        apply(&mut config, dir.path()).unwrap();
        assert_eq!(config.master_key.unwrap(), "ab".repeat(32));
        assert_eq!(config.database_url, "sqlite://x.db");
        assert!(!dir.path().join(".byok/master.key").exists());
    }
}
