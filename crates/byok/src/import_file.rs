//! `byok import FILE`: credentials from JSON lines of `{owner, provider, label?,
//! fields}`, each field plaintext or a legacy `iv:authTag:ciphertext`. Every line is
//! checked and written on its own: a bad line is reported and nothing of it is
//! written; the others go on.

use std::collections::BTreeMap;

use byok_core::{AuditAction, AuditEvent, Label, Owner, SecretValue};
use byok_crypto::{LegacyKey, looks_legacy, open_legacy};
use byok_server::{AppState, NewCredential, new_credential};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    owner: String,
    provider: String,
    label: Option<String>,
    fields: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
pub struct ImportSummary {
    pub imported: usize,
    pub failed: usize,
    pub lines: Vec<String>,
}

/// Imports (or with `dry_run` only checks) every non-empty line of `text`.
pub async fn import(state: &AppState, text: &str, legacy: Option<&LegacyKey>, dry_run: bool) -> ImportSummary {
    let mut summary = ImportSummary::default();
    for (index, raw) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let number = index + 1;
        match import_line(state, raw, legacy, dry_run).await {
            Ok(done) => {
                summary.imported += 1;
                summary.lines.push(format!("line {number}: {done}"));
            }
            Err(problem) => {
                summary.failed += 1;
                summary.lines.push(format!("line {number}: error: {problem}"));
            }
        }
    }
    summary
}

async fn import_line(state: &AppState, raw: &str, legacy: Option<&LegacyKey>, dry_run: bool) -> Result<String, String> {
    // serde's message could quote a value: say only where the line is wrong.
    let line: Line = serde_json::from_str(raw).map_err(|e| {
        format!("not a valid import line (expected {{owner, provider, label?, fields}}; column {})", e.column())
    })?;
    let owner: Owner = line.owner.parse().map_err(|e: byok_core::DomainError| e.to_string())?;
    let provider = state.catalog.get(&line.provider).map_err(|e| e.to_string())?.id.clone();
    let label = line.label.as_deref().map(Label::parse).transpose().map_err(|e| e.to_string())?.unwrap_or_default();
    let mut fields = BTreeMap::new();
    for (name, value) in line.fields {
        let value = if looks_legacy(&value) {
            let key = legacy.ok_or_else(|| {
                format!(
                    "fields.{}: is a legacy ciphertext, but no --legacy-key-env was given",
                    byok_core::echo_name(&name)
                )
            })?;
            open_legacy(key, &value).map_err(|e| format!("fields.{}: {e}", byok_core::echo_name(&name)))?
        } else {
            SecretValue::new(value)
        };
        fields.insert(name, value);
    }
    let split = state.catalog.split_fields(provider.as_str(), fields).map_err(|e| e.to_string())?;
    let hints: Vec<String> =
        split.secrets.iter().map(|(k, v)| format!("{k}={}", byok_core::secret_hint(v.expose()))).collect();
    let what = format!("{owner} {provider} \"{}\" {}", label.as_str(), hints.join(" "));
    if dry_run {
        return Ok(format!("would import {what}"));
    }
    let credential =
        new_credential(state, NewCredential { owner, provider, label, split, monthly_limit: None, priority: 0 });
    state.store.insert_credential(&credential).await.map_err(|e| e.to_string())?;
    state
        .audit
        .record(import_event(&credential, "byok import".into()))
        .await
        .map_err(|e| format!("imported but not audited: {e}"))?;
    Ok(format!("imported {what} as {}", credential.id))
}

/// The audit entry for a credential an operator imported.
pub(crate) fn import_event(c: &byok_core::Credential, detail: String) -> AuditEvent {
    AuditEvent {
        actor_role: "operator".into(),
        action: AuditAction::CredentialImport.as_str().into(),
        owner: Some(c.owner.to_string()),
        credential_id: Some(c.id.to_string()),
        provider: Some(c.provider.to_string()),
        outcome: "ok".into(),
        detail: Some(detail),
        ..AuditEvent::default()
    }
}
