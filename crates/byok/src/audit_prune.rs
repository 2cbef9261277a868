//! `byok audit prune --before DATE --exported FILE`: removes each chain's entries older
//! than DATE, but only those FILE (the output of `byok audit export`) holds exactly as
//! stored, and only from an intact log. Each pruned chain's last removed entry is kept
//! as its pruned head (attested under the audit key), from which `byok audit verify`
//! continues the chain. The prune itself is audited.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use byok_core::{AuditAction, SystemClock, Timestamp};
use byok_crypto::AuditKey;
use byok_server::Auditor;
use byok_server::audit_verify::{attest, verify};
use byok_store::{PrunedHead, Store};
use clap::Args;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::audit_cli::export_line;
use crate::config::Config;
use crate::operator::{self, OperatorError};
use crate::startup;

const PAGE: u32 = 1000;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove entries older than this: an RFC 3339 date (midnight UTC) or date-time.
    #[arg(long, value_parser = parse_before)]
    pub before: Timestamp,
    /// What `byok audit export` wrote: every entry to remove must be in it, unchanged.
    #[arg(long, value_name = "FILE")]
    pub exported: PathBuf,
}

/// An RFC 3339 date (`2026-11-01`, meaning midnight UTC) or date-time.
pub fn parse_before(s: &str) -> Result<Timestamp, String> {
    let at = match OffsetDateTime::parse(s, &Rfc3339) {
        Ok(at) => at,
        Err(_) => Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| "must be an RFC 3339 date (2026-11-01) or date-time (2026-11-01T00:00:00Z)".to_owned())?
            .midnight()
            .assume_utc(),
    };
    Ok(Timestamp::from_millis((at.unix_timestamp_nanos() / 1_000_000) as i64))
}

/// What a prune removed.
#[derive(Debug, Default)]
pub struct PruneReport {
    pub removed: u64,
    pub chains: usize,
}

/// Entries of an export, by chain and sequence number: a digest of each line as
/// parsed, keyed with the audit key (a line holds nothing secret; the key only spares
/// a second hash function).
type Exported = HashMap<String, HashMap<i64, Vec<u8>>>;

fn fingerprint(key: &AuditKey, line: &serde_json::Value) -> Vec<u8> {
    key.mac(&[], line.to_string().as_bytes())
}

fn read_export(path: &Path, key: &AuditKey) -> Result<Exported, OperatorError> {
    let cannot = |e: std::io::Error| OperatorError::Input(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut exported = Exported::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(cannot)?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line).map_err(|_| {
            OperatorError::Input(format!("{} line {}: not a line of `byok audit export`", path.display(), n + 1))
        })?;
        let (Some(chain), Some(seq)) = (value["chain"].as_str(), value["seq"].as_i64()) else {
            return Err(OperatorError::Input(format!(
                "{} line {}: not a line of `byok audit export`",
                path.display(),
                n + 1
            )));
        };
        exported.entry(chain.to_owned()).or_default().insert(seq, fingerprint(key, &value));
    }
    Ok(exported)
}

/// Each chain's oldest entries before `before`, up to the first newer one, as the heads
/// to prune to; refuses when one of them is not in the export as stored.
async fn heads_to_prune(
    store: &dyn Store,
    key: &AuditKey,
    before: Timestamp,
    exported: &Exported,
    file: &Path,
) -> Result<Vec<PrunedHead>, OperatorError> {
    let starts: HashMap<String, i64> =
        store.audit_pruned_heads().await?.into_iter().map(|h| (h.chain, h.seq)).collect();
    let mut heads = Vec::new();
    for chain in store.audit_chains().await? {
        let mut seq = starts.get(&chain).copied().unwrap_or(0);
        let mut last = None;
        'walk: loop {
            let page = store.audit_chain_entries(&chain, seq, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for record in page {
                if record.at >= before {
                    break 'walk;
                }
                if exported.get(&chain).and_then(|e| e.get(&record.seq))
                    != Some(&fingerprint(key, &export_line(&record)))
                {
                    return Err(OperatorError::Refused(format!(
                        "entry {} of audit chain {chain} ({}) is not in {} as stored; nothing pruned. Export first: \
                         byok audit export --before {} > FILE",
                        record.seq,
                        record.at,
                        file.display(),
                        before
                    )));
                }
                seq = record.seq;
                last = Some(record.mac);
            }
        }
        if let Some(mac) = last {
            let attestation = attest(key, &chain, seq, &mac);
            heads.push(PrunedHead { chain, seq, mac, attestation, pruned_at: Timestamp::now() });
        }
    }
    Ok(heads)
}

pub async fn prune(config: &Config, args: &PruneArgs) -> Result<PruneReport, OperatorError> {
    let (store, key) = startup::open_audit(config).await?;
    let exported = read_export(&args.exported, &key)?;
    let report = verify(store.as_ref(), &key, &[]).await?;
    if let Some(b) = report.first_break {
        return Err(OperatorError::Refused(format!(
            "the audit log is broken (chain {} at entry {}: {}); nothing pruned",
            b.chain, b.seq, b.reason
        )));
    }
    let heads = heads_to_prune(store.as_ref(), &key, args.before, &exported, &args.exported).await?;
    if heads.is_empty() {
        return Ok(PruneReport::default());
    }
    let audit = Auditor::start(store.clone(), key, Arc::new(SystemClock)).await.map_err(startup::StartupError::from)?;
    let removed = store.prune_audit(&heads).await?;
    let mut event = operator::event(AuditAction::AuditPrune);
    event.detail = Some(format!(
        "removed {removed} entries before {} from {} chains, exported in {}",
        args.before,
        heads.len(),
        args.exported.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    ));
    operator::record(&audit, event).await?;
    Ok(PruneReport { removed, chains: heads.len() })
}
