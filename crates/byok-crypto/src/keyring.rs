use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, RandomizedNonceKey};
use aws_lc_rs::{hkdf, hmac};
use zeroize::Zeroizing;

use crate::KeyringError;

const KEY_LEN: usize = 32;
/// Key id used when a single key comes from `BYOK_MASTER_KEY`; writing the same key as
/// `BYOK_MASTER_KEYS=k1:<hex>` is equivalent, which is how a rotation starts.
pub const DEFAULT_KEY_ID: &str = "k1";

/// A validated master key id: 1–32 of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(s: &str) -> Option<Self> {
        let ok = (1..=32).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        ok.then(|| Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 32 bytes of master key, wiped on drop.
pub struct MasterKeyBytes(Zeroizing<[u8; KEY_LEN]>);

impl MasterKeyBytes {
    pub fn from_hex(hex_key: &str) -> Option<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(hex_key.trim(), bytes.as_mut()).ok()?;
        Some(Self(bytes))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

/// The value stored per key id so that a wrong key is caught at start-up. It is an
/// HMAC under a key derived from the master key, so it reveals nothing about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCheck {
    pub key_id: String,
    pub check: Vec<u8>,
}

pub(crate) struct MasterKey {
    pub(crate) id: KeyId,
    pub(crate) seal: RandomizedNonceKey,
    check: Vec<u8>,
}

impl MasterKey {
    fn new(id: KeyId, key: &MasterKeyBytes) -> Self {
        let seal_key = derive(key, b"byok/seal/v1");
        let seal =
            RandomizedNonceKey::new(&AES_256_GCM, seal_key.as_ref()).expect("32-byte key is valid for AES-256-GCM");
        let check_key = derive(key, b"byok/key-check/v1");
        let check = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, check_key.as_ref()), b"byok key check value")
            .as_ref()
            .to_vec();
        Self { id, seal, check }
    }
}

/// HKDF-SHA256 of the master key for one purpose, so the master key itself is never
/// used directly and each use has its own key.
fn derive(key: &MasterKeyBytes, info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"byok").extract(key.0.as_ref());
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    prk.expand(&[info], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(out.as_mut()))
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}

/// The master keys: the first is primary and seals everything new; the others only
/// open data sealed before a rotation.
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("key_ids", &self.key_ids()).finish()
    }
}

impl Keyring {
    /// Builds the keyring from the two settings; exactly one must be present.
    pub fn from_settings(single: Option<&str>, list: Option<&str>) -> Result<Self, KeyringError> {
        match (present(single), present(list)) {
            (None, None) => Err(KeyringError::Missing),
            (Some(_), Some(_)) => Err(KeyringError::Ambiguous),
            (Some(hex_key), None) => {
                let key = MasterKeyBytes::from_hex(hex_key).ok_or_else(|| KeyringError::MalformedKey(String::new()))?;
                Ok(Self::from_keys(vec![(KeyId(DEFAULT_KEY_ID.to_owned()), key)]))
            }
            (None, Some(list)) => Self::parse_list(list),
        }
    }

    fn parse_list(list: &str) -> Result<Self, KeyringError> {
        let mut keys: Vec<(KeyId, MasterKeyBytes)> = Vec::new();
        for (i, entry) in list.split(',').enumerate() {
            let (id, hex_key) = entry.trim().split_once(':').ok_or(KeyringError::MalformedEntry(i + 1))?;
            let id = KeyId::parse(id.trim()).ok_or(KeyringError::MalformedEntry(i + 1))?;
            if keys.iter().any(|(k, _)| *k == id) {
                return Err(KeyringError::DuplicateId(id.0));
            }
            let key =
                MasterKeyBytes::from_hex(hex_key).ok_or_else(|| KeyringError::MalformedKey(format!(" `{id}`")))?;
            keys.push((id, key));
        }
        Ok(Self::from_keys(keys))
    }

    fn from_keys(keys: Vec<(KeyId, MasterKeyBytes)>) -> Self {
        Self { keys: keys.iter().map(|(id, key)| MasterKey::new(id.clone(), key)).collect() }
    }

    pub fn primary_id(&self) -> &KeyId {
        &self.keys[0].id
    }

    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    pub fn contains(&self, key_id: &str) -> bool {
        self.get(key_id).is_some()
    }

    pub(crate) fn primary(&self) -> &MasterKey {
        &self.keys[0]
    }

    pub(crate) fn get(&self, key_id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id.as_str() == key_id)
    }

    /// One key-check value per key id.
    pub fn key_checks(&self) -> Vec<KeyCheck> {
        self.keys.iter().map(|k| KeyCheck { key_id: k.id.0.clone(), check: k.check.clone() }).collect()
    }

    /// Does `stored` (read from the database) match the key this keyring holds under
    /// the same id? Compared in constant time.
    pub fn matches(&self, stored: &KeyCheck) -> Option<bool> {
        let key = self.get(&stored.key_id)?;
        Some(crate::constant_time_eq(&key.check, &stored.check))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const B: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn missing_ambiguous_and_malformed_keys_are_refused() {
        assert_eq!(Keyring::from_settings(None, None).unwrap_err(), KeyringError::Missing);
        assert_eq!(Keyring::from_settings(Some("  "), None).unwrap_err(), KeyringError::Missing);
        assert_eq!(Keyring::from_settings(Some(A), Some(&format!("k1:{A}"))).unwrap_err(), KeyringError::Ambiguous);
        assert!(matches!(Keyring::from_settings(Some("abc"), None), Err(KeyringError::MalformedKey(_))));
        assert!(matches!(Keyring::from_settings(Some(&A.replace('0', "g")), None), Err(KeyringError::MalformedKey(_))));
        assert!(matches!(Keyring::from_settings(None, Some(A)), Err(KeyringError::MalformedEntry(1))));
        assert!(matches!(
            Keyring::from_settings(None, Some(&format!("k2:{B},k2:{A}"))),
            Err(KeyringError::DuplicateId(_))
        ));
    }

    #[test]
    fn first_listed_key_is_primary_and_single_key_is_k1() {
        let ring = Keyring::from_settings(None, Some(&format!("k2:{B}, k1:{A}"))).unwrap();
        assert_eq!(ring.primary_id().as_str(), "k2");
        assert_eq!(ring.key_ids(), vec!["k2", "k1"]);
        let single = Keyring::from_settings(Some(A), None).unwrap();
        assert_eq!(single.primary_id().as_str(), DEFAULT_KEY_ID);
    }

    #[test]
    fn key_check_values_tell_keys_apart_and_hide_them() {
        let a = Keyring::from_settings(Some(A), None).unwrap();
        let b = Keyring::from_settings(Some(B), None).unwrap();
        let check_a = &a.key_checks()[0];
        assert_eq!(a.matches(check_a), Some(true));
        assert_eq!(b.matches(check_a), Some(false));
        assert_ne!(hex::encode(&check_a.check), A);
        assert_eq!(a.matches(&KeyCheck { key_id: "other".into(), check: vec![] }), None);
    }

    #[test]
    fn debug_shows_ids_not_keys() {
        let ring = Keyring::from_settings(Some(A), None).unwrap();
        let dbg = format!("{ring:?}");
        assert!(dbg.contains("k1") && !dbg.contains(A));
    }
}
