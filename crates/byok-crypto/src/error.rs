use thiserror::Error;

/// Why a keyring could not be built from configuration. Messages never echo key
/// material.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyringError {
    #[error(
        "no master key: set BYOK_MASTER_KEY (64 hex characters from `byok keygen`) or BYOK_MASTER_KEYS, or use --dev for a local development key"
    )]
    Missing,
    #[error("BYOK_MASTER_KEY and BYOK_MASTER_KEYS are both set; set only one")]
    Ambiguous,
    #[error("malformed master key{0}: expected 64 hex characters (32 bytes)")]
    MalformedKey(String),
    #[error("malformed BYOK_MASTER_KEYS entry {0}: expected `id:hex`, id of 1-32 letters, digits, _ or -")]
    MalformedEntry(usize),
    #[error("master key id `{0}` appears twice in BYOK_MASTER_KEYS")]
    DuplicateId(String),
}

/// Why an envelope did not open. Deliberately coarse: an attacker learns nothing from
/// which check failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("sealed secret is malformed")]
    Malformed,
    #[error("sealed secret names master key `{0}`, which the keyring does not hold")]
    UnknownKey(String),
    #[error("sealed secret failed authentication (wrong key, altered, or moved from another credential)")]
    Authentication,
}
