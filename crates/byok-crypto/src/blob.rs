//! Sealing of byok's own secrets (not credentials), bound to a purpose name.

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::{CryptoError, Keyring};

/// Purpose of the sealed audit MAC key.
pub const AUDIT_KEY_PURPOSE: &str = "audit-mac-key";

/// What a webhook endpoint's signing secret is sealed for: that endpoint only.
pub fn webhook_secret_purpose(webhook_id: &str) -> String {
    format!("webhook-secret:{webhook_id}")
}

impl Keyring {
    /// Seals `data` under the primary key, bound to `purpose`.
    pub fn seal_blob(&self, purpose: &str, data: &[u8]) -> (String, Vec<u8>) {
        self.seal_with_aad(&blob_aad(purpose), Zeroizing::new(data.to_vec()))
    }

    /// Opens what [`Keyring::seal_blob`] sealed for the same purpose.
    pub fn open_blob(&self, purpose: &str, envelope: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.open_with_aad(&blob_aad(purpose), envelope)
    }
}

fn blob_aad(purpose: &str) -> Vec<u8> {
    let mut aad = b"byok-blob-v1".to_vec();
    aad.push(0);
    aad.extend_from_slice(purpose.as_bytes());
    aad
}

/// The key that chains audit entries. It is random, stored sealed under the master
/// keyring (so a master-key rotation re-seals it and old entries stay verifiable),
/// and never leaves the process in plaintext.
pub struct AuditKey(hmac::Key);

impl AuditKey {
    /// 32 fresh random bytes for a new deployment's audit key.
    pub fn generate_bytes() -> Zeroizing<Vec<u8>> {
        let mut bytes = Zeroizing::new(vec![0u8; 32]);
        SystemRandom::new().fill(&mut bytes).expect("system random source");
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// MAC of an entry: covers the previous entry's MAC and the entry's bytes.
    pub fn mac(&self, previous: &[u8], canonical: &[u8]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(&(previous.len() as u32).to_be_bytes());
        ctx.update(previous);
        ctx.update(canonical);
        ctx.sign().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn blobs_open_only_for_their_purpose() {
        let ring = Keyring::from_settings(Some(A), None).unwrap();
        let (key_id, env) = ring.seal_blob(AUDIT_KEY_PURPOSE, b"secret bytes");
        assert_eq!(key_id, "k1");
        assert_eq!(&*ring.open_blob(AUDIT_KEY_PURPOSE, &env).unwrap(), b"secret bytes");
        assert!(ring.open_blob("other", &env).is_err());
    }

    #[test]
    fn macs_chain_and_differ() {
        let key = AuditKey::from_bytes(&AuditKey::generate_bytes());
        let first = key.mac(&[], b"entry one");
        assert_eq!(first, key.mac(&[], b"entry one"));
        assert_ne!(first, key.mac(&[], b"entry two"));
        assert_ne!(key.mac(&first, b"entry two"), key.mac(&[], b"entry two"));
    }
}
