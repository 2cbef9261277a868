//! `byok credentials list|show|disable|enable|delete`: the operator's view of stored
//! credentials, straight from the database (for scripts, and when the API is down).
//! Never a secret: hints only. Changes are audited as the API audits them, with the
//! operator as actor.

use std::collections::BTreeMap;

use byok_core::{AuditAction, Credential, CredentialId, Owner, ProviderId};
use byok_store::{Change, CredentialFilter, Store};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::config::Config;
use crate::operator::{self, OperatorError};
use crate::startup::StartupError;

const PAGE: u32 = 500;

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// One line per credential (id, owner, provider, label, status, enabled, hints).
    List(ListArgs),
    /// One credential in full, without its secret.
    Show {
        id: CredentialId,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stop serving a credential (resolve and the proxy skip it).
    Disable { id: CredentialId },
    /// Serve a disabled credential again.
    Enable { id: CredentialId },
    /// Delete a credential, its sealed secret versions and its usage history.
    Delete { id: CredentialId },
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this owner's: `user:<id>`, `org:<id>` or `platform`.
    #[arg(long)]
    pub owner: Option<Owner>,
    /// Only this provider's.
    #[arg(long, value_parser = ProviderId::parse)]
    pub provider: Option<ProviderId>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A credential as the command line shows it: what the API answers, never a secret.
#[derive(Debug, Serialize)]
struct CredentialLine<'a> {
    id: String,
    owner: String,
    provider: &'a str,
    label: &'a str,
    status: &'static str,
    status_message: Option<&'a str>,
    enabled: bool,
    priority: i64,
    config: &'a BTreeMap<String, String>,
    secret_hints: &'a BTreeMap<String, String>,
    monthly_limit: Option<i64>,
    monthly_token_limit: Option<i64>,
    rate_limit_per_minute: Option<i64>,
    usage_total: i64,
    version: i64,
    last_tested_at: Option<String>,
    last_used_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl<'a> CredentialLine<'a> {
    fn new(c: &'a Credential) -> Self {
        Self {
            id: c.id.to_string(),
            owner: c.owner.to_string(),
            provider: c.provider.as_str(),
            label: c.label.as_str(),
            status: c.effective_status().as_str(),
            status_message: c.status_message.as_deref(),
            enabled: c.enabled,
            priority: c.priority,
            config: &c.config,
            secret_hints: &c.secret_hints,
            monthly_limit: c.monthly_limit,
            monthly_token_limit: c.monthly_token_limit,
            rate_limit_per_minute: c.rate_limit_per_minute,
            usage_total: c.usage_total,
            version: c.version,
            last_tested_at: c.last_tested_at.map(|t| t.to_rfc3339()),
            last_used_at: c.last_used_at.map(|t| t.to_rfc3339()),
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
        }
    }

    fn text(&self) -> String {
        let hints: Vec<String> = self.secret_hints.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let enabled = if self.enabled { "enabled" } else { "disabled" };
        let label = serde_json::to_string(self.label).unwrap_or_default();
        format!("{} {} {} {label} {} {enabled} {}", self.id, self.owner, self.provider, self.status, hints.join(" "))
            .trim_end()
            .to_owned()
    }

    fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

pub async fn run(config: &Config, command: &CredentialsCommand) -> Result<(), OperatorError> {
    match command {
        CredentialsCommand::List(args) => list(config, args).await,
        CredentialsCommand::Show { id, json } => {
            let store = operator::open_store(config).await?;
            let c = load(store.as_ref(), id).await?;
            let line = CredentialLine::new(&c);
            println!("{}", if *json { line.json() } else { line.text() });
            Ok(())
        }
        CredentialsCommand::Disable { id } => set_enabled(config, id, false).await,
        CredentialsCommand::Enable { id } => set_enabled(config, id, true).await,
        CredentialsCommand::Delete { id } => delete(config, id).await,
    }
}

async fn list(config: &Config, args: &ListArgs) -> Result<(), OperatorError> {
    if let Some(provider) = &args.provider {
        let catalog = byok_providers::build_catalog(config.extra_providers.clone()).map_err(StartupError::from)?;
        catalog.get(provider.as_str()).map_err(|e| OperatorError::Input(e.to_string()))?;
    }
    let store = operator::open_store(config).await?;
    let mut filter = CredentialFilter {
        owners: args.owner.clone().map(|o| vec![o]),
        provider: args.provider.clone(),
        exclude_platform: false,
        after: None,
        limit: PAGE,
    };
    let mut out = std::io::stdout().lock();
    loop {
        let page = store.list_credentials(&filter).await?;
        for c in &page {
            let line = CredentialLine::new(c);
            operator::write_line(&mut out, &if args.json { line.json() } else { line.text() });
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => filter.after = Some(last.id),
            _ => return Ok(()),
        }
    }
}

async fn load(store: &dyn Store, id: &CredentialId) -> Result<Credential, OperatorError> {
    store.get_credential(id).await?.ok_or_else(|| OperatorError::NoCredential(id.to_string()))
}

/// Enables or disables a credential as `PATCH {"enabled": …}` does: the same update,
/// the same two audit entries (`credential.update`, then `credential.enable`/`disable`).
async fn set_enabled(config: &Config, id: &CredentialId, enabled: bool) -> Result<(), OperatorError> {
    let store = operator::open_store(config).await?;
    let mut c = load(store.as_ref(), id).await?;
    let state = if enabled { "enabled" } else { "disabled" };
    if c.enabled == enabled {
        println!("credential {id} is already {state}");
        return Ok(());
    }
    let audit = operator::start_audit(config, &store).await?;
    let before = c.clone();
    c.enabled = enabled;
    c.updated_at = byok_core::Timestamp::now();
    let mut update = operator::credential_event(AuditAction::CredentialUpdate, &c);
    update.detail = Some("settings".into());
    let action = if enabled { AuditAction::CredentialEnable } else { AuditAction::CredentialDisable };
    let events = vec![update, operator::credential_event(action, &c)];
    let change = Change::UpdateCredential { credential: c.clone(), new_version: false, keep: 0 };
    if !operator::commit_credential_change(&audit, change, events, (Some(&before), Some(&c))).await? {
        return Err(OperatorError::Conflict(id.to_string()));
    }
    println!("credential {id} {state}");
    Ok(())
}

/// Deletes a credential as `DELETE /v1/credentials/{id}` does, audited alike.
async fn delete(config: &Config, id: &CredentialId) -> Result<(), OperatorError> {
    let store = operator::open_store(config).await?;
    let c = load(store.as_ref(), id).await?;
    let audit = operator::start_audit(config, &store).await?;
    let event = operator::credential_event(AuditAction::CredentialDelete, &c);
    if !operator::commit_credential_change(&audit, Change::DeleteCredential(*id), vec![event], (Some(&c), None)).await?
    {
        return Err(OperatorError::NoCredential(id.to_string()));
    }
    println!("credential {id} deleted");
    Ok(())
}
