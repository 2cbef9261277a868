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
    /// Tokens (as the providers report them to the proxy) allowed per usage period.
    pub monthly_token_limit: Option<i64>,
    /// Requests allowed per calendar minute, across instances.
    pub rate_limit_per_minute: Option<i64>,
    pub usage_total: i64,
    pub usage_period: i64,
    pub period_start: Timestamp,
    /// The secret's version: bumped whenever the secret fields change.
    pub version: i64,
    /// Bumped on every change; guards read-modify-write updates.
    pub revision: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When a connection test of the current secret started, while one runs.
    pub verifying_since: Option<Timestamp>,
}

impl Credential {
    /// Whether any use must be checked against a limit before it starts (a monthly
    /// request limit or token budget); one without is counted after the fact.
    pub fn is_limited(&self) -> bool {
        self.monthly_limit.is_some() || self.monthly_token_limit.is_some()
    }

    /// The status people see: a disabled credential is `disabled` whatever it was,
    /// an enabled one under test `verifying`.
    pub fn effective_status(&self) -> Status {
        match (self.enabled, self.verifying_since) {
            (false, _) => Status::Disabled,
            (true, Some(_)) => Status::Verifying,
            (true, None) => self.status,
        }
    }
}

/// The most characters a hint shows from each end of a secret.
const HINT_END: usize = 4;

/// What people see of a secret: a recognisable prefix (up to its first `-` or `_`
/// within four characters) and the last four characters, never more than a third of
/// the secret; nothing of one shorter than twelve characters.
pub fn secret_hint(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if value.trim_start().starts_with('{') {
        return format!("JSON key file ({} bytes)", value.len());
    }
    let budget = chars.len() / 3;
    if budget < HINT_END {
        return "…".to_owned();
    }
    let prefix_end = chars.iter().take(HINT_END).rposition(|c| *c == '-' || *c == '_').map_or(0, |i| i + 1);
    let prefix_end = if prefix_end + HINT_END <= budget { prefix_end } else { 0 };
    let prefix: String = chars[..prefix_end].iter().collect();
    let tail: String = chars[chars.len() - HINT_END..].iter().collect();
    format!("{prefix}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_show_prefix_and_tail_only() {
        assert_eq!(secret_hint("sk-proj-abcdefghijklmnopa1b2"), "sk-…a1b2");
        assert_eq!(secret_hint("re_123456789abcdefghijklm"), "re_…jklm");
        assert_eq!(secret_hint("re_123456789abcdefgh"), "…efgh");
        assert_eq!(secret_hint("0123456789abcdef0123"), "…0123");
        assert_eq!(secret_hint("short"), "…");
        assert_eq!(secret_hint("{\"type\":\"service_account\"}"), "JSON key file (26 bytes)");
    }

    /// The example: 17 characters used to show 12.
    #[test]
    fn secret_hints_reveal_at_most_a_third() {
        assert_eq!(secret_hint("Xy7_8Q~a9bCdEgh12"), "…gh12");
        let alphabets = ["abcdefghijklmnopqrstuvwxyz0123456789", "sk-_ab", "é_ü-ß€x"];
        for alphabet in alphabets {
            let alphabet: Vec<char> = alphabet.chars().collect();
            for len in 0..=300usize {
                let secret: String = (0..len).map(|i| alphabet[(i * 7 + len) % alphabet.len()]).collect();
                let hint = secret_hint(&secret);
                let (head, tail) = hint.split_once('…').expect("a hint has an ellipsis");
                let shown = head.chars().count() + tail.chars().count();
                assert!(head.chars().count() <= 4 && tail.chars().count() <= 4, "{secret:?} -> {hint:?}");
                assert!(shown * 3 <= len, "{len} characters, {shown} shown: {secret:?} -> {hint:?}");
                assert!(secret.starts_with(head) && secret.ends_with(tail), "{secret:?} -> {hint:?}");
            }
        }
    }
}
