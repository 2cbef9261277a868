//! `byok import FILE`: credentials from JSON lines of `{owner, provider, label?,
//! fields}`, each field plaintext or a legacy `iv:authTag:ciphertext`. Every line is
//! checked on its own: a bad line is reported and nothing of it is written; the others
//! go on. Checked lines are written `--batch-size` at a time (one transaction, one
//! multi-row insert each); a batch that fails is written again line by line, so only
//! the line at fault is lost.

use std::collections::BTreeMap;

use byok_core::{AuditAction, AuditEvent, Credential, Label, Owner, SecretValue};
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
}

/// How `import` reads and writes.
pub struct ImportOptions<'a> {
    pub legacy: Option<&'a LegacyKey>,
    /// Check every line, write nothing.
    pub dry_run: bool,
    /// Lines written per transaction (at least 1).
    pub batch_size: usize,
}

/// A checked line; `what` names it by hints only.
enum Checked {
    WouldImport(String),
    Failed(String),
    Ready { what: String, credential: Box<Credential> },
}

/// A line after its batch was written: its report (ok, text), or its credential to audit.
enum Done {
    Reported(bool, String),
    Written { what: String, credential: Box<Credential> },
}

/// Imports (or with `dry_run` only checks) every non-empty line of `text`, telling
/// `report` the outcome of each line, in order.
pub async fn import(
    state: &AppState,
    text: &str,
    options: &ImportOptions<'_>,
    report: &mut dyn FnMut(String),
) -> ImportSummary {
    let mut summary = ImportSummary::default();
    let mut pending: Vec<(usize, Checked)> = Vec::new();
    let mut ready = 0;
    for (index, raw) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let checked = check_line(state, raw, options).unwrap_or_else(Checked::Failed);
        ready += usize::from(matches!(checked, Checked::Ready { .. }));
        pending.push((index + 1, checked));
        if ready >= options.batch_size.max(1) {
            finish_batch(state, std::mem::take(&mut pending), &mut summary, report).await;
            ready = 0;
        }
    }
    finish_batch(state, pending, &mut summary, report).await;
    summary
}

/// Writes the ready lines of a batch, audits each written credential and reports every line.
async fn finish_batch(
    state: &AppState,
    lines: Vec<(usize, Checked)>,
    summary: &mut ImportSummary,
    report: &mut dyn FnMut(String),
) {
    let lines = write(state, lines).await;
    // One audit entry per credential, as a single import writes: the log stays
    // searchable by credential. Recorded together, they share the audit writer's commits.
    let audits = futures::future::join_all(lines.iter().map(|(_, done)| async move {
        match done {
            Done::Written { credential, .. } => {
                Some(state.audit.record(import_event(credential, "byok import".into())).await)
            }
            _ => None,
        }
    }))
    .await;
    for ((number, done), audit) in lines.into_iter().zip(audits) {
        let (ok, text) = match (done, audit) {
            (Done::Reported(ok, text), _) => (ok, text),
            (Done::Written { what, credential }, Some(Ok(()))) => {
                (true, format!("imported {what} as {}", credential.id))
            }
            (Done::Written { credential, .. }, _) => {
                (false, format!("error: imported as {} but not audited", credential.id))
            }
        };
        if ok {
            summary.imported += 1;
        } else {
            summary.failed += 1;
        }
        report(format!("line {number}: {text}"));
    }
}

/// All ready lines in one transaction; if that fails, each on its own.
async fn write(state: &AppState, lines: Vec<(usize, Checked)>) -> Vec<(usize, Done)> {
    let ready: Vec<Credential> = lines
        .iter()
        .filter_map(|(_, checked)| match checked {
            Checked::Ready { credential, .. } => Some(Credential::clone(credential)),
            _ => None,
        })
        .collect();
    let together = ready.len() > 1 && state.store.insert_credentials(&ready).await.is_ok();
    let mut done = Vec::with_capacity(lines.len());
    for (number, checked) in lines {
        let line = match checked {
            Checked::WouldImport(what) => Done::Reported(true, format!("would import {what}")),
            Checked::Failed(problem) => Done::Reported(false, format!("error: {problem}")),
            Checked::Ready { what, credential } => {
                let written = if together { Ok(()) } else { state.store.insert_credential(&credential).await };
                match written {
                    Ok(()) => Done::Written { what, credential },
                    Err(e) => Done::Reported(false, format!("error: {e}")),
                }
            }
        };
        done.push((number, line));
    }
    done
}

fn check_line(state: &AppState, raw: &str, options: &ImportOptions<'_>) -> Result<Checked, String> {
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
            let key = options.legacy.ok_or_else(|| {
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
    if options.dry_run {
        return Ok(Checked::WouldImport(what));
    }
    let credential =
        new_credential(state, NewCredential { owner, provider, label, split, monthly_limit: None, priority: 0 });
    Ok(Checked::Ready { what, credential: Box::new(credential) })
}

/// The audit entry for a credential an operator imported.
pub(crate) fn import_event(c: &Credential, detail: String) -> AuditEvent {
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
