//! `byok audit verify` and `byok audit export`.

use std::io::Write;
use std::path::Path;

use byok_core::{AuditRecord, Timestamp};
use byok_server::audit_verify::{Head, verify};
use byok_store::AuditFilter;

use crate::config::Config;
use crate::startup::{self, StartupError};

/// Verifies every chain; with `heads`, also against heads recorded earlier. Prints
/// the current heads (keep them elsewhere to detect truncation). `Ok(false)` on a break.
pub async fn verify_command(config: &Config, heads: Option<&Path>) -> Result<bool, StartupError> {
    let expected = match heads {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| {
                StartupError::Audit(byok_server::audit::AuditSetupError::Start(format!("{}: {e}", path.display())))
            })?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                Head::parse(l).ok_or_else(|| {
                    StartupError::Audit(byok_server::audit::AuditSetupError::Start(format!("not a head line: {l}")))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let (store, key) = startup::open_audit(config).await?;
    let report = verify(store.as_ref(), &key, &expected).await?;
    if let Some(b) = &report.first_break {
        eprintln!("byok: audit chain {} broken at entry {}: {}", b.chain, b.seq, b.reason);
        return Ok(false);
    }
    let mut out = std::io::stdout().lock();
    let pruned = match report.pruned_chains {
        0 => String::new(),
        n => format!(" ({n} continue from a pruned head)"),
    };
    let summary =
        format!("audit log intact: {} entries in {} chains{pruned}; heads:", report.entries, report.heads.len());
    crate::operator::write_line(&mut out, &summary);
    for head in &report.heads {
        crate::operator::write_line(&mut out, &head.line());
    }
    Ok(true)
}

/// One entry as `byok audit export` writes it: its fields and its MAC in hex.
pub fn export_line(record: &AuditRecord) -> serde_json::Value {
    let mut line = serde_json::to_value(record).unwrap_or_default();
    line["mac"] = serde_json::Value::String(hex::encode(&record.mac));
    line
}

/// Writes every entry (older than `before`, if given) as JSON lines, oldest first.
pub async fn export_command(config: &Config, before: Option<Timestamp>) -> Result<u64, StartupError> {
    let (store, _) = startup::open_audit(config).await?;
    let mut filter = AuditFilter { limit: 1000, until: before, ..AuditFilter::default() };
    let mut out = std::io::stdout().lock();
    let mut written = 0;
    loop {
        let page = store.list_audit(&filter).await?;
        let Some(last) = page.last() else { break };
        filter.after = Some((last.at.millis(), last.chain.clone(), last.seq));
        for record in &page {
            let _ = writeln!(out, "{}", export_line(record));
            written += 1;
        }
    }
    Ok(written)
}
