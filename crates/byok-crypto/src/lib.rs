//! Sealing of secret fields under a versioned master keyring (AES-256-GCM with random
//! nonces and associated data binding each envelope to its credential row), key-check
//! values, and token generation and hashing.

mod blob;
mod envelope;
mod error;
mod keyring;
mod legacy;
mod tokens;
mod webhook_signing;

pub use blob::{AUDIT_KEY_PURPOSE, AuditKey, webhook_secret_purpose};
pub use envelope::Binding;
pub use error::{CryptoError, KeyringError};
pub use keyring::{KeyCheck, KeyId, Keyring, MasterKeyBytes};
pub use legacy::{LegacyError, LegacyKey, looks_legacy, open_legacy};
pub use tokens::{
    MAX_TOKEN_LEN, constant_time_eq, form_token, generate_master_key_hex, generate_token, hash_token, is_token_shaped,
};
pub use webhook_signing::{generate_webhook_secret, sign_webhook};
