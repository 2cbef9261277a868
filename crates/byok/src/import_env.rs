//! `byok import-env`: platform credentials from the environment into the store,
//! printing only hints.

use byok_core::{Label, Owner, SplitFields};

use crate::import_file::import_event;
use byok_server::{AppState, NewCredential, new_credential};
use byok_store::{CredentialFilter, StoreError};

/// The label an imported environment credential gets; a second import finds it.
pub const IMPORT_LABEL: &str = "env";

/// Imports (or with `dry_run` only describes) every platform credential found in the
/// environment, and returns one line per provider for people.
pub async fn import_env(state: &AppState, dry_run: bool) -> Result<Vec<String>, StoreError> {
    let label = Label::parse(IMPORT_LABEL).expect("a valid constant label");
    let mut lines = Vec::new();
    for found in &state.platform_env.credentials {
        let hints: Vec<String> = found.hints().iter().map(|(k, v)| format!("{k}={v}")).collect();
        let what = format!("{:<11} {} (from {})", found.provider, hints.join(" "), found.variables.join(", "));
        let filter = CredentialFilter {
            owners: Some(vec![Owner::Platform]),
            provider: Some(found.provider.clone()),
            exclude_platform: false,
            after: None,
            limit: 500,
        };
        let existing = state.store.list_credentials(&filter).await?;
        if let Some(present) = existing.iter().find(|c| c.label == label) {
            lines.push(format!("{what}: already imported as {}", present.id));
            continue;
        }
        if dry_run {
            lines.push(format!("{what}: would import"));
            continue;
        }
        let split = SplitFields { config: found.config.clone(), secrets: found.secrets.clone() };
        let credential = new_credential(
            state,
            NewCredential {
                owner: Owner::Platform,
                provider: found.provider.clone(),
                label: label.clone(),
                split,
                monthly_limit: None,
                priority: 0,
            },
        );
        match state.store.insert_credential(&credential).await {
            Ok(()) => {
                let event = import_event(&credential, format!("byok import-env from {}", found.variables.join(", ")));
                state.audit.record(event).await.map_err(|e| StoreError::Metering(format!("audit: {e}")))?;
                lines.push(format!("{what}: imported as {}", credential.id))
            }
            Err(StoreError::Conflict(_)) => lines.push(format!("{what}: already imported")),
            Err(e) => return Err(e),
        }
    }
    for (provider, problem) in &state.platform_env.ignored {
        lines.push(format!("{provider:<11} ignored: {problem}"));
    }
    if lines.is_empty() {
        lines.push("no platform credentials found in the environment or .env".to_owned());
    }
    Ok(lines)
}
