//! SQL texts that read the same in both engines' dialects (they take no parameters).

/// Every key id that seals a row. Each step is one lookup in the key_id index: a few key
/// ids cost a few lookups, not a read of every sealed row (a million at start-up).
pub(crate) const SEALED_KEY_IDS: &str = concat!(
    "WITH RECURSIVE c(k) AS (SELECT min(key_id) FROM credentials ",
    "UNION ALL SELECT (SELECT min(key_id) FROM credentials WHERE key_id > c.k) FROM c WHERE c.k IS NOT NULL), ",
    "v(k) AS (SELECT min(key_id) FROM credential_versions ",
    "UNION ALL SELECT (SELECT min(key_id) FROM credential_versions WHERE key_id > v.k) FROM v WHERE v.k IS NOT NULL) ",
    "SELECT k FROM c WHERE k IS NOT NULL UNION SELECT k FROM v WHERE k IS NOT NULL ",
    "UNION SELECT key_id FROM audit_key UNION SELECT key_id FROM webhooks ORDER BY 1"
);

pub(crate) const KEY_CHECKS: &str = "SELECT key_id, check_value FROM key_checks ORDER BY key_id";

pub(crate) const AUDIT_KEY: &str = "SELECT key_id, sealed FROM audit_key WHERE id = 1";

pub(crate) const AUDIT_CHAINS: &str = "SELECT chain FROM audit_chains ORDER BY started_at, chain";

pub(crate) const PRUNED_HEADS: &str =
    "SELECT chain, seq, mac, attestation, pruned_at FROM audit_pruned_heads ORDER BY chain";

/// One of the two epochs: a number that changes with every change of its kind.
pub(crate) enum Epoch {
    Token,
    Credential,
}

impl Epoch {
    pub(crate) fn select(&self) -> &'static str {
        match self {
            Epoch::Token => "SELECT epoch FROM token_epoch WHERE id = 1",
            Epoch::Credential => "SELECT epoch FROM credential_epoch WHERE id = 1",
        }
    }
}
