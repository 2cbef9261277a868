//! The sealed envelope, format version 1:
//!
//! ```text
//! [0x01][key id length n][key id: n bytes][nonce: 12 bytes][ciphertext ‖ tag: 16 bytes]
//! ```
//!
//! The associated data is the header (version and key id) followed by the credential's
//! binding (id, owner, provider, secret version), so an envelope copied to another row,
//! or with any header byte changed, fails authentication.

use std::collections::BTreeMap;

use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
use byok_core::{CredentialId, Owner, ProviderId, SecretFields, SecretValue};
use zeroize::Zeroizing;

use crate::{CryptoError, Keyring};

const FORMAT_V1: u8 = 1;
const TAG_LEN: usize = 16;

/// What an envelope is bound to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub credential_id: &'a CredentialId,
    pub owner: &'a Owner,
    pub provider: &'a ProviderId,
    pub version: i64,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = b"byok-credential-v1".to_vec();
        for part in [self.credential_id.to_string(), self.owner.to_string(), self.provider.to_string()] {
            aad.push(0);
            aad.extend_from_slice(part.as_bytes());
        }
        aad.push(0);
        aad.extend_from_slice(&self.version.to_be_bytes());
        aad
    }
}

/// Plaintext being written: when it must grow, it moves into a larger zeroizing
/// buffer and the old one is wiped as it drops, so no unwiped copy is left behind
/// (a plain `Vec` would leave its old allocation to the allocator as it was). Room
/// for the tag is kept, so sealing in place does not reallocate either.
struct PlaintextBuffer(Zeroizing<Vec<u8>>);

impl std::io::Write for PlaintextBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let needed = self.0.len() + bytes.len() + TAG_LEN;
        if needed > self.0.capacity() {
            let mut larger = Zeroizing::new(Vec::with_capacity(needed.max(self.0.capacity() * 2)));
            larger.extend_from_slice(&self.0);
            self.0 = larger;
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Keyring {
    /// Seals `secrets` under the primary key. Returns the key id used and the envelope.
    pub fn seal(&self, binding: &Binding<'_>, secrets: &SecretFields) -> (String, Vec<u8>) {
        let exposed: BTreeMap<&str, &str> = secrets.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        let size: usize = exposed.iter().map(|(k, v)| k.len() + v.len() + 6).sum::<usize>() + 2;
        let mut plaintext = PlaintextBuffer(Zeroizing::new(Vec::with_capacity(size + TAG_LEN)));
        serde_json::to_writer(&mut plaintext, &exposed).expect("a map of strings serialises");
        self.seal_with_aad(&binding.aad(), plaintext.0)
    }

    /// Seals under the primary key; the associated data is the header then `bound`.
    pub(crate) fn seal_with_aad(&self, bound: &[u8], mut in_out: Zeroizing<Vec<u8>>) -> (String, Vec<u8>) {
        let key = self.primary();
        let id = key.id.as_str().as_bytes();
        let mut header = vec![FORMAT_V1, id.len() as u8];
        header.extend_from_slice(id);
        let nonce = key
            .seal
            .seal_in_place_append_tag(Aad::from([header.as_slice(), bound].concat()), &mut *in_out)
            .expect("AES-GCM sealing of a bounded plaintext");
        let mut envelope = header;
        envelope.extend_from_slice(nonce.as_ref());
        envelope.extend_from_slice(&in_out);
        (key.id.as_str().to_owned(), envelope)
    }

    /// Opens an envelope sealed for exactly this binding.
    pub fn open(&self, binding: &Binding<'_>, envelope: &[u8]) -> Result<SecretFields, CryptoError> {
        let plaintext = self.open_with_aad(&binding.aad(), envelope)?;
        let map: BTreeMap<String, String> = serde_json::from_slice(&plaintext).map_err(|_| CryptoError::Malformed)?;
        Ok(map.into_iter().map(|(k, v)| (k, SecretValue::new(v))).collect())
    }

    /// Opens an envelope whose associated data after the header is `bound`.
    pub(crate) fn open_with_aad(&self, bound: &[u8], envelope: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (&format, rest) = envelope.split_first().ok_or(CryptoError::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(CryptoError::Malformed)?;
        if format != FORMAT_V1 || id_len == 0 || rest.len() < id_len as usize + NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (id, rest) = rest.split_at(id_len as usize);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let id = std::str::from_utf8(id).map_err(|_| CryptoError::Malformed)?;
        let key = self.get(id).ok_or_else(|| CryptoError::UnknownKey(id.chars().take(32).collect()))?;
        let header = &envelope[..2 + id_len as usize];
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Malformed)?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let len = key
            .seal
            .open_in_place(nonce, Aad::from([header, bound].concat()), &mut buf)
            .map_err(|_| CryptoError::Authentication)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    /// The key id an envelope names, without opening it.
    pub fn envelope_key_id(envelope: &[u8]) -> Option<&str> {
        let id_len = *envelope.get(1)? as usize;
        std::str::from_utf8(envelope.get(2..2 + id_len)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const B: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
    const CANARY: &str = "sk-canary-0123456789abcdef";

    struct Row {
        id: CredentialId,
        owner: Owner,
        provider: ProviderId,
        version: i64,
    }

    impl Row {
        fn new() -> Self {
            Self {
                id: CredentialId::new(),
                owner: "user:alice".parse().unwrap(),
                provider: ProviderId::parse("openai").unwrap(),
                version: 1,
            }
        }
        fn binding(&self) -> Binding<'_> {
            Binding { credential_id: &self.id, owner: &self.owner, provider: &self.provider, version: self.version }
        }
    }

    fn secrets() -> SecretFields {
        let mut s = SecretFields::new();
        s.insert("api_key".into(), SecretValue::new(CANARY.into()));
        s
    }

    fn ring() -> Keyring {
        Keyring::from_settings(Some(A), None).unwrap()
    }

    #[test]
    fn round_trip_and_no_plaintext_in_envelope() {
        let (ring, row) = (ring(), Row::new());
        let (key_id, env) = ring.seal(&row.binding(), &secrets());
        assert_eq!(key_id, "k1");
        assert_eq!(Keyring::envelope_key_id(&env), Some("k1"));
        assert!(!env.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()));
        assert_eq!(ring.open(&row.binding(), &env).unwrap()["api_key"].expose(), CANARY);
    }

    #[test]
    fn every_flipped_bit_fails_cleanly() {
        let (ring, row) = (ring(), Row::new());
        let (_, env) = ring.seal(&row.binding(), &secrets());
        // Every bit of every byte: version, key id length, key id, nonce, ciphertext, tag.
        for i in 0..env.len() {
            for bit in 0..8 {
                let mut bad = env.clone();
                bad[i] ^= 1 << bit;
                assert!(ring.open(&row.binding(), &bad).is_err(), "flip of byte {i} bit {bit} opened");
            }
        }
        assert_eq!(ring.open(&row.binding(), &env[..env.len() - 1]).unwrap_err(), CryptoError::Authentication);
        assert_eq!(ring.open(&row.binding(), &[]).unwrap_err(), CryptoError::Malformed);
    }

    #[test]
    fn envelope_moved_to_another_row_does_not_open() {
        let ring = ring();
        let row = Row::new();
        let (_, env) = ring.seal(&row.binding(), &secrets());
        let other_id = Row { id: CredentialId::new(), ..Row::new() };
        let other_owner = Row { id: row.id, owner: "user:bob".parse().unwrap(), ..Row::new() };
        let other_provider = Row { id: row.id, provider: ProviderId::parse("anthropic").unwrap(), ..Row::new() };
        let other_version = Row { id: row.id, version: 2, ..Row::new() };
        for moved in [other_id, other_owner, other_provider, other_version] {
            assert_eq!(ring.open(&moved.binding(), &env).unwrap_err(), CryptoError::Authentication);
        }
    }

    #[test]
    fn nonces_and_ciphertexts_never_repeat() {
        let (ring, row) = (ring(), Row::new());
        let mut nonces = HashSet::new();
        let mut bodies = HashSet::new();
        for _ in 0..2000 {
            let (_, env) = ring.seal(&row.binding(), &secrets());
            assert!(nonces.insert(env[4..16].to_vec()), "nonce reused");
            assert!(bodies.insert(env[16..].to_vec()), "ciphertext repeated");
        }
    }

    #[test]
    fn old_keys_open_and_unknown_keys_are_named() {
        let row = Row::new();
        let old = ring();
        let (_, env) = old.seal(&row.binding(), &secrets());
        let rotated = Keyring::from_settings(None, Some(&format!("k2:{B},k1:{A}"))).unwrap();
        assert_eq!(rotated.open(&row.binding(), &env).unwrap()["api_key"].expose(), CANARY);
        assert_eq!(rotated.seal(&row.binding(), &secrets()).0, "k2");
        let only_new = Keyring::from_settings(None, Some(&format!("k2:{B}"))).unwrap();
        assert_eq!(only_new.open(&row.binding(), &env).unwrap_err(), CryptoError::UnknownKey("k1".into()));
        let wrong = Keyring::from_settings(Some(B), None).unwrap();
        assert_eq!(wrong.open(&row.binding(), &env).unwrap_err(), CryptoError::Authentication);
    }
}
