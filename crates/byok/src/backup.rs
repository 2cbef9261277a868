//! `byok backup FILE`: a consistent copy of the store while byok serves from it.

use std::path::Path;

use byok_store::StoreError;

use crate::config::Config;

/// Copies the configured SQLite store into `file` (a new file) and says where.
pub async fn backup_command(config: &Config, file: &Path) -> Result<(), StoreError> {
    let bytes = byok_store::backup(&config.database_url, file).await?;
    println!("backup written to {} ({bytes} bytes); it opens only with this store's master key", file.display());
    Ok(())
}
