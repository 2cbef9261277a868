//! The spool's file format: one JSON line per audit entry (its chained record and what
//! its use counts) or per counts-only line (an answer's tokens), numbered per chain.

use std::fs::File;
use std::io::BufRead;
use std::path::Path;

use byok_core::{AuditEvent, AuditRecord, Timestamp};
use serde::{Deserialize, Serialize};

use crate::usage_writer::UsageEvent;

/// What one spooled line counts: a use's requests and tokens, as the usage writer would
/// count them, at `at` in the usage period starting at `period` (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UseCounts {
    pub event: UsageEvent,
    pub period: i64,
    pub at: i64,
}

/// A line of the spool: a chained audit record with what its use counts, or counts alone
/// (an answer's tokens); `line` numbers a chain's lines from 1 (0: written by a build
/// that did not number them).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Spooled {
    pub line: i64,
    pub record: Option<AuditRecord>,
    pub counts: Option<UseCounts>,
}

/// One line of a spool file, as read back (a record's MAC in hex).
#[derive(Deserialize)]
struct Line {
    chain: String,
    #[serde(default)]
    line: i64,
    seq: Option<i64>,
    at: Option<i64>,
    event: Option<AuditEvent>,
    mac: Option<String>,
    #[serde(default)]
    counts: Option<UseCounts>,
}

/// [`Line`] as written, borrowing the record.
#[derive(Serialize)]
pub(super) struct LineOut<'a> {
    chain: &'a str,
    pub line: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a AuditEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<UseCounts>,
}

impl<'a> LineOut<'a> {
    pub(super) fn entry(line: i64, r: &'a AuditRecord, counts: Option<UseCounts>) -> Self {
        Self {
            chain: &r.chain,
            line,
            seq: Some(r.seq),
            at: Some(r.at.millis()),
            event: Some(&r.event),
            mac: Some(hex::encode(&r.mac)),
            counts,
        }
    }

    pub(super) fn counts(chain: &'a str, line: i64, counts: UseCounts) -> Self {
        Self { chain, line, seq: None, at: None, event: None, mac: None, counts: Some(counts) }
    }
}

impl Line {
    fn spooled(self) -> Option<(String, Spooled)> {
        let record = match (self.seq, self.at, self.event, self.mac) {
            (Some(seq), Some(at), Some(event), Some(mac)) => Some(AuditRecord {
                chain: self.chain.clone(),
                seq,
                at: Timestamp::from_millis(at),
                event,
                mac: hex::decode(mac).ok()?,
            }),
            (None, None, None, None) if self.counts.is_some() => None,
            _ => return None,
        };
        Some((self.chain, Spooled { line: self.line, record, counts: self.counts }))
    }
}

/// The lines of a spool file with their chains; a torn last line (a power loss
/// mid-write) is skipped.
pub(super) fn read_spooled(path: &Path) -> std::io::Result<Vec<(String, Spooled)>> {
    let file = File::open(path)?;
    let mut spooled = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        match serde_json::from_str::<Line>(&line?).ok().and_then(Line::spooled) {
            Some(entry) => spooled.push(entry),
            None => tracing::warn!(file = %path.display(), "an unreadable audit spool line was skipped"),
        }
    }
    Ok(spooled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64) -> AuditRecord {
        let event = AuditEvent { action: "credential.proxy".into(), outcome: "ok".into(), ..AuditEvent::default() };
        AuditRecord { chain: "c".into(), seq, at: Timestamp::from_millis(seq), event, mac: vec![seq as u8; 32] }
    }

    #[test]
    fn a_spool_file_reads_back_its_lines_and_skips_a_torn_last_line() {
        let path = std::env::temp_dir().join(format!("byok-spool-test-{}.spool", uuid::Uuid::new_v4().simple()));
        let event = UsageEvent {
            credential: Some(byok_core::CredentialId::new()),
            count_credential: true,
            virtual_key: Some(byok_core::TokenId::new()),
            count_request: false,
            tokens: 42,
        };
        let counts = UseCounts { event, period: 7, at: 9 };
        let written = [
            Spooled { line: 1, record: Some(record(2)), counts: None },
            Spooled { line: 2, record: Some(record(3)), counts: Some(counts) },
            Spooled { line: 3, record: None, counts: Some(counts) },
        ];
        let mut text = Vec::new();
        for spooled in &written {
            let line = match &spooled.record {
                Some(record) => LineOut::entry(spooled.line, record, spooled.counts),
                None => LineOut::counts("c", spooled.line, counts),
            };
            text.extend(serde_json::to_vec(&line).unwrap());
            text.push(b'\n');
        }
        let torn = serde_json::to_vec(&LineOut::entry(4, &record(4), Some(counts))).unwrap();
        text.extend(&torn[..torn.len() / 2]);
        std::fs::write(&path, text).unwrap();
        let spooled = read_spooled(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let expected: Vec<(String, Spooled)> = written.iter().map(|s| ("c".to_owned(), s.clone())).collect();
        assert_eq!(spooled, expected, "whole lines come back as written, MACs and counts included");
    }

    #[test]
    fn a_line_of_a_build_that_did_not_number_lines_reads_as_line_0() {
        let old = r#"{"chain":"c","seq":5,"at":5,"event":{"actor_role":"virtual","action":"credential.proxy","outcome":"ok"},"mac":"0505"}"#;
        let (chain, spooled) = serde_json::from_str::<Line>(old).unwrap().spooled().unwrap();
        assert_eq!((chain.as_str(), spooled.line, spooled.counts), ("c", 0, None));
        assert_eq!(spooled.record.map(|r| (r.seq, r.mac)), Some((5, vec![5, 5])));
    }
}
