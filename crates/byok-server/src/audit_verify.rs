//! Verification of the audit chains: every entry's MAC, every sequence number, every
//! registered chain. It detects an edited, deleted or reordered entry. It cannot
//! detect the removal of a chain's newest entries (or of a whole chain with its
//! registration) unless compared with heads recorded elsewhere: see `Head`.
//!
//! A chain whose oldest entries were pruned (`byok audit prune`) starts from its
//! recorded pruned head, which is itself checked: its attestation is a MAC under the
//! audit key, so moving a chain's start forward to hide deleted entries is detected.

use std::collections::HashMap;

use byok_crypto::AuditKey;
use byok_store::{PrunedHead, Store, StoreError};

const PAGE: u32 = 1000;

/// The newest entry of a chain: keep these outside the database to detect truncation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub chain: String,
    pub seq: i64,
    pub mac_hex: String,
}

impl Head {
    pub fn line(&self) -> String {
        format!("{} {} {}", self.chain, self.seq, self.mac_hex)
    }

    pub fn parse(line: &str) -> Option<Head> {
        let mut parts = line.split_whitespace();
        let head = Head {
            chain: parts.next()?.to_owned(),
            seq: parts.next()?.parse().ok()?,
            mac_hex: parts.next()?.to_owned(),
        };
        parts.next().is_none().then_some(head)
    }
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub chain: String,
    pub seq: i64,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub entries: u64,
    pub heads: Vec<Head>,
    /// Chains that continue from a pruned head.
    pub pruned_chains: usize,
    pub first_break: Option<Break>,
}

/// The attestation of a pruned head: a MAC under the audit key over what verification
/// trusts of it. Its bytes are a four-element JSON array naming what it is, so they never
/// equal an entry's canonical bytes (thirteen elements).
pub fn attest(key: &AuditKey, chain: &str, seq: i64, mac: &[u8]) -> Vec<u8> {
    let bytes = serde_json::to_vec(&("audit.pruned_head", chain, seq, hex::encode(mac))).expect("strings serialise");
    key.mac(&[], &bytes)
}

/// Checks every chain; with `expected` heads (from an earlier run), also that each
/// of those entries is still there unchanged.
pub async fn verify(store: &dyn Store, key: &AuditKey, expected: &[Head]) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let mut pruned: HashMap<String, PrunedHead> =
        store.audit_pruned_heads().await?.into_iter().map(|h| (h.chain.clone(), h)).collect();
    for chain in store.audit_chains().await? {
        let start = pruned.remove(&chain);
        let (mut seq, mut previous, mut macs_at) = (0i64, Vec::new(), HashMap::new());
        if let Some(head) = &start {
            if !byok_crypto::constant_time_eq(&head.attestation, &attest(key, &chain, head.seq, &head.mac)) {
                let reason = "the record of its pruned entries was altered or forged".to_owned();
                report.first_break = Some(Break { chain: chain.clone(), seq: head.seq, reason });
                return Ok(report);
            }
            (seq, previous) = (head.seq, head.mac.clone());
            report.pruned_chains += 1;
            macs_at.insert(seq, hex::encode(&previous));
        }
        loop {
            let page = store.audit_chain_entries(&chain, seq, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for record in &page {
                let problem = if record.seq != seq + 1 {
                    Some(format!("entry {} is missing (next found: {})", seq + 1, record.seq))
                } else if record.mac != key.mac(&previous, &record.canonical_bytes()) {
                    Some(format!("entry {} was altered, reordered or forged", record.seq))
                } else {
                    None
                };
                if let Some(reason) = problem {
                    report.first_break = Some(Break { chain: chain.clone(), seq: seq + 1, reason });
                    return Ok(report);
                }
                seq = record.seq;
                previous = record.mac.clone();
                report.entries += 1;
                if expected.iter().any(|h| h.chain == chain && h.seq == seq) {
                    macs_at.insert(seq, hex::encode(&record.mac));
                }
            }
        }
        if seq == 0 {
            report.first_break = Some(Break {
                chain: chain.clone(),
                seq: 1,
                reason: "the chain is registered but has no entries".into(),
            });
            return Ok(report);
        }
        // Heads recorded before a prune removed them were exported with the entries.
        let first_kept = start.as_ref().map_or(1, |h| h.seq);
        for head in expected.iter().filter(|h| h.chain == chain && h.seq >= first_kept) {
            if macs_at.get(&head.seq) != Some(&head.mac_hex) {
                let reason =
                    format!("recorded head {} is gone or differs (the chain was truncated or rewritten)", head.seq);
                report.first_break = Some(Break { chain: chain.clone(), seq: head.seq, reason });
                return Ok(report);
            }
        }
        report.heads.push(Head { chain, seq, mac_hex: hex::encode(&previous) });
    }
    if let Some(head) = pruned.into_values().next() {
        let reason = "a pruned chain is no longer registered".to_owned();
        report.first_break = Some(Break { chain: head.chain, seq: head.seq, reason });
        return Ok(report);
    }
    if let Some(head) = expected.iter().find(|h| !report.heads.iter().any(|r| r.chain == h.chain)) {
        report.first_break =
            Some(Break { chain: head.chain.clone(), seq: head.seq, reason: "a recorded chain is gone".into() });
    }
    Ok(report)
}
