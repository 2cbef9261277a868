//! Ciphertexts from the stores byok replaces: hex `iv:authTag:ciphertext`, AES-256-GCM
//! under a 64-hex `ENCRYPTION_KEY` (Node's `crypto` with a 12- or 16-byte IV). Only
//! read, for `byok import`; byok never writes this format. RustCrypto's `aes-gcm` is
//! used here because it accepts 16-byte IVs, which aws-lc-rs's AEAD API does not.

use aes_gcm::AesGcm;
use aes_gcm::aead::generic_array::typenum::{U12, U16};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::Aes256;
use byok_core::SecretValue;
use zeroize::Zeroizing;

use crate::MasterKeyBytes;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LegacyError {
    #[error("the legacy key must be 64 hex characters")]
    BadKey,
    #[error("the legacy ciphertext is malformed")]
    Malformed,
    #[error("the legacy ciphertext did not decrypt (wrong key or altered data)")]
    Decrypt,
    #[error("the decrypted value is not UTF-8 text")]
    NotText,
}

/// A legacy `ENCRYPTION_KEY`.
pub struct LegacyKey(MasterKeyBytes);

impl LegacyKey {
    pub fn from_hex(hex_key: &str) -> Result<Self, LegacyError> {
        MasterKeyBytes::from_hex(hex_key).map(Self).ok_or(LegacyError::BadKey)
    }
}

/// Does `value` have the legacy `iv:authTag:ciphertext` shape?
pub fn looks_legacy(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    parts.len() == 3
        && matches!(parts[0].len(), 24 | 32)
        && parts[1].len() == 32
        && !parts[2].is_empty()
        && parts.iter().all(|p| p.len() % 2 == 0 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Decrypts a legacy value.
pub fn open_legacy(key: &LegacyKey, value: &str) -> Result<SecretValue, LegacyError> {
    let mut parts = value.split(':');
    let (Some(iv), Some(tag), Some(body), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(LegacyError::Malformed);
    };
    let iv = hex::decode(iv).map_err(|_| LegacyError::Malformed)?;
    let mut payload = hex::decode(body).map_err(|_| LegacyError::Malformed)?;
    payload.extend(hex::decode(tag).map_err(|_| LegacyError::Malformed)?);
    let key = key.0.as_bytes();
    let plaintext = Zeroizing::new(
        match <[u8; 12]>::try_from(iv.as_slice()) {
            Ok(nonce) => AesGcm::<Aes256, U12>::new_from_slice(key)
                .map_err(|_| LegacyError::BadKey)?
                .decrypt(&nonce.into(), payload.as_slice()),
            Err(_) => {
                let nonce = <[u8; 16]>::try_from(iv.as_slice()).map_err(|_| LegacyError::Malformed)?;
                AesGcm::<Aes256, U16>::new_from_slice(key)
                    .map_err(|_| LegacyError::BadKey)?
                    .decrypt(&nonce.into(), payload.as_slice())
            }
        }
        .map_err(|_| LegacyError::Decrypt)?,
    );
    let text = std::str::from_utf8(&plaintext).map_err(|_| LegacyError::NotText)?;
    Ok(SecretValue::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with Node's crypto: key = 32 bytes of 7, IV = bytes of 3,
    // createCipheriv('aes-256-gcm', key, iv) over "sk-legacy-secret-0123456789".
    const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";
    const IV12: &str = "030303030303030303030303:bbb8980ed44e80c196d45b42931021dd:56958e6f3f4f3f21036d303988259a78c00cd1dd87a1a14618e6be";
    const IV16: &str = "03030303030303030303030303030303:33e0d26a3dd225aa81548b23c894beac:7214682c1ff984fe9e3bdb8ff498b232311c0b5072ce2f4d8cd180";

    #[test]
    fn node_ciphertexts_open() {
        let key = LegacyKey::from_hex(KEY).unwrap();
        for value in [IV12, IV16] {
            assert!(looks_legacy(value));
            assert_eq!(open_legacy(&key, value).unwrap().expose(), "sk-legacy-secret-0123456789");
        }
    }

    #[test]
    fn wrong_key_and_tampering_fail_cleanly() {
        let wrong = LegacyKey::from_hex(&"08".repeat(32)).unwrap();
        assert_eq!(open_legacy(&wrong, IV12).unwrap_err(), LegacyError::Decrypt);
        let key = LegacyKey::from_hex(KEY).unwrap();
        let tampered = IV12.replace(":bbb8", ":bbb9");
        assert_eq!(open_legacy(&key, &tampered).unwrap_err(), LegacyError::Decrypt);
        assert!(!looks_legacy("sk-plain-key-0123456789"));
        assert!(!looks_legacy("abc:def:0123"));
        assert!(LegacyKey::from_hex("nothex").is_err());
    }
}
