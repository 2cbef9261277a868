//! What a connection test found out.

use serde::{Deserialize, Serialize};

/// The four answers a connection test can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcomeKind {
    /// The provider accepted the credential, and every configured check passed.
    Connected,
    /// The credential is valid but limited (a sending-only key, a number that cannot
    /// send SMS, a key without a permission the probe needs …).
    Restricted,
    /// The provider rejected the credential.
    Invalid,
    /// No verdict: the provider failed, throttled, timed out or could not be reached.
    /// A credential's status must not change on this answer.
    Unavailable,
}

impl ProbeOutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Restricted => "restricted",
            Self::Invalid => "invalid",
            Self::Unavailable => "unavailable",
        }
    }
}

/// A connection test's result. `message` is one or two sentences for people that name
/// the provider's reason; it never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeOutcome {
    pub kind: ProbeOutcomeKind,
    pub message: String,
    pub latency_ms: u64,
}

/// An adapter's finding, before timing and the final scrub of secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub kind: ProbeOutcomeKind,
    pub message: String,
}

impl Verdict {
    pub(crate) fn connected(message: impl Into<String>) -> Self {
        Self::new(ProbeOutcomeKind::Connected, message)
    }
    pub(crate) fn restricted(message: impl Into<String>) -> Self {
        Self::new(ProbeOutcomeKind::Restricted, message)
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ProbeOutcomeKind::Invalid, message)
    }
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ProbeOutcomeKind::Unavailable, message)
    }
    pub(crate) fn new(kind: ProbeOutcomeKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_as_the_api_spells_them() {
        for kind in [
            ProbeOutcomeKind::Connected,
            ProbeOutcomeKind::Restricted,
            ProbeOutcomeKind::Invalid,
            ProbeOutcomeKind::Unavailable,
        ] {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
        }
    }
}
