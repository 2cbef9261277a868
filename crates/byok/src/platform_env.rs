//! Where platform credentials in the environment are looked up: the process
//! environment first, then a `.env` file in the working directory.

use std::collections::HashMap;
use std::path::Path;

/// A lookup over the process environment and the `.env` file at `path` (if any). A
/// malformed `.env` is reported (by line, never by value) and otherwise ignored.
pub fn lookup_with_dotenv(path: &Path) -> (impl Fn(&str) -> Option<String> + use<>, Option<String>) {
    let mut file = HashMap::new();
    let mut problem = None;
    if path.exists() {
        match dotenvy::from_path_iter(path) {
            Ok(entries) => {
                for entry in entries {
                    match entry {
                        Ok((k, v)) => {
                            file.insert(k, v);
                        }
                        Err(dotenvy::Error::LineParse(_, index)) => {
                            problem = Some(format!("{}: cannot parse the entry at character {index}", path.display()));
                        }
                        Err(_) => problem = Some(format!("{}: cannot be read", path.display())),
                    }
                }
            }
            Err(_) => problem = Some(format!("{}: cannot be read", path.display())),
        }
    }
    let lookup = move |name: &str| std::env::var(name).ok().or_else(|| file.get(name).cloned());
    (lookup, problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_values_are_found_and_process_env_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "BYOK_TEST_ONLY_DOTENV_VAR=from-file\nPATH=not-the-real-path\n").unwrap();
        let (lookup, problem) = lookup_with_dotenv(&path);
        assert!(problem.is_none());
        assert_eq!(lookup("BYOK_TEST_ONLY_DOTENV_VAR").as_deref(), Some("from-file"));
        assert_ne!(lookup("PATH").as_deref(), Some("not-the-real-path"));
        assert_eq!(lookup("BYOK_TEST_ONLY_MISSING"), None);
    }
}
