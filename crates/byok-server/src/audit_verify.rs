//! Verification of the audit chains: every entry's MAC, every sequence number, every
//! registered chain. It detects an edited, deleted or reordered entry. It cannot
//! detect the removal of a chain's newest entries (or of a whole chain with its
//! registration) unless compared with heads recorded elsewhere: see `Head`.

use byok_crypto::AuditKey;
use byok_store::{Store, StoreError};

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
    pub first_break: Option<Break>,
}

/// Checks every chain; with `expected` heads (from an earlier run), also that each
/// of those entries is still there unchanged.
pub async fn verify(store: &dyn Store, key: &AuditKey, expected: &[Head]) -> Result<Report, StoreError> {
    let mut report = Report::default();
    for chain in store.audit_chains().await? {
        let (mut seq, mut previous, mut macs_at) = (0i64, Vec::new(), std::collections::HashMap::new());
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
        for head in expected.iter().filter(|h| h.chain == chain) {
            if macs_at.get(&head.seq) != Some(&head.mac_hex) {
                let reason =
                    format!("recorded head {} is gone or differs (the chain was truncated or rewritten)", head.seq);
                report.first_break = Some(Break { chain: chain.clone(), seq: head.seq, reason });
                return Ok(report);
            }
        }
        report.heads.push(Head { chain, seq, mac_hex: hex::encode(&previous) });
    }
    if let Some(head) = expected.iter().find(|h| !report.heads.iter().any(|r| r.chain == h.chain)) {
        report.first_break =
            Some(Break { chain: head.chain.clone(), seq: head.seq, reason: "a recorded chain is gone".into() });
    }
    Ok(report)
}
