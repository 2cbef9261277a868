use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::{CredentialId, DomainError, Label, Owner, ProviderId, Timestamp};

/// A credential's verification status as stored. `disabled` is what a disabled
/// credential shows whatever its stored status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Unverified,
    Verifying,
    Connected,
    Restricted,
    Error,
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unverified => "unverified",
            Status::Verifying => "verifying",
            Status::Connected => "connected",
            Status::Restricted => "restricted",
            Status::Error => "error",
            Status::Disabled => "disabled",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Ok(match s {
            "unverified" => Status::Unverified,
            "verifying" => Status::Verifying,
            "connected" => Status::Connected,
            "restricted" => Status::Restricted,
            "error" => Status::Error,
            "disabled" => Status::Disabled,
            _ => return Err(DomainError::invalid("status", "is not a known status")),
        })
    }
}

/// A stored credential: everything about it, with its secret fields only as a sealed
/// envelope (see byok-crypto) and as hints.
#[derive(Debug, Clone)]
pub struct Credential {
    pub id: CredentialId,
    pub owner: Owner,
    pub provider: ProviderId,
    pub label: Label,
    pub config: BTreeMap<String, String>,
    pub secret_hints: BTreeMap<String, String>,
    /// Id of the master key the envelope is sealed under (also inside the envelope).
    pub key_id: String,
    pub sealed: Vec<u8>,
    pub status: Status,
    pub status_message: Option<String>,
    pub last_tested_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub enabled: bool,
    pub priority: i64,
    pub monthly_limit: Option<i64>,
    pub usage_total: i64,
    pub usage_period: i64,
    pub period_start: Timestamp,
    /// The secret's version: bumped whenever the secret fields change.
    pub version: i64,
    /// Bumped on every change; guards read-modify-write updates.
    pub revision: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Credential {
    /// The status people see: a disabled credential is `disabled` whatever it was.
    pub fn effective_status(&self) -> Status {
        if self.enabled { self.status } else { Status::Disabled }
    }
}

/// What people see of a secret: a recognisable prefix and the last four characters
/// of a long value, nothing of a short one.
pub fn secret_hint(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if value.trim_start().starts_with('{') {
        return format!("JSON key file ({} bytes)", value.len());
    }
    if chars.len() < 16 {
        return "…".to_owned();
    }
    let prefix_end = chars.iter().take(8).rposition(|c| *c == '-' || *c == '_').map_or(0, |i| i + 1);
    let prefix: String = chars[..prefix_end].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_show_prefix_and_tail_only() {
        assert_eq!(secret_hint("sk-proj-abcdefghijklmnopa1b2"), "sk-proj-…a1b2");
        assert_eq!(secret_hint("re_123456789abcdefgh"), "re_…efgh");
        assert_eq!(secret_hint("0123456789abcdef0123"), "…0123");
        assert_eq!(secret_hint("short"), "…");
        assert_eq!(secret_hint("{\"type\":\"service_account\"}"), "JSON key file (26 bytes)");
    }
}
