use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// A new token: the typed prefix and 256 random bits in hex.
pub fn generate_token(prefix: &str) -> String {
    let mut bytes = Zeroizing::new([0u8; 32]);
    SystemRandom::new().fill(bytes.as_mut()).expect("system random source");
    format!("{prefix}{}", hex::encode(bytes.as_ref()))
}

/// The longest token byok accepts.
pub const MAX_TOKEN_LEN: usize = 128;

/// Whether `token` is shaped like a byok token with `prefix`: the prefix, then at
/// least 32 letters, digits, `-` or `_`, at most [`MAX_TOKEN_LEN`] characters in all.
pub fn is_token_shaped(token: &str, prefix: &str) -> bool {
    token.len() <= MAX_TOKEN_LEN
        && token.strip_prefix(prefix).is_some_and(|rest| {
            rest.len() >= 32 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A new random master key as 64 hex characters.
pub fn generate_master_key_hex() -> String {
    let mut bytes = Zeroizing::new([0u8; 32]);
    SystemRandom::new().fill(bytes.as_mut()).expect("system random source");
    hex::encode(bytes.as_ref())
}

/// The stored form of a token. Tokens carry 256 random bits, so a fast hash is enough:
/// there is nothing to brute-force.
pub fn hash_token(token: &str) -> Vec<u8> {
    digest(&SHA256, token.as_bytes()).as_ref().to_vec()
}

/// The anti-forgery value of a session signed in with `token`: an HMAC keyed by the
/// token, so only someone holding the token can compute it, and it differs from the
/// token's stored hash.
pub fn form_token(token: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
    hex::encode(hmac::sign(&key, b"byok settings page forms v1").as_ref())
}

/// Compares two hashes without leaking where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let a = generate_token("byok_svc_");
        let b = generate_token("byok_svc_");
        assert!(a.starts_with("byok_svc_") && a.len() == 9 + 64);
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert_eq!(generate_master_key_hex().len(), 64);
        assert!(is_token_shaped(&a, "byok_svc_"));
        assert!(!is_token_shaped(&a, "byok_adm_"));
        assert!(!is_token_shaped(&format!("{a}{}", "0".repeat(MAX_TOKEN_LEN)), "byok_svc_"));
        assert!(!is_token_shaped("byok_svc_short", "byok_svc_"));
        assert!(!is_token_shaped(&format!("byok_svc_{} ", "0".repeat(40)), "byok_svc_"));
    }

    #[test]
    fn form_tokens_are_per_session_and_not_the_stored_hash() {
        let a = generate_token("byok_usr_");
        let b = generate_token("byok_usr_");
        assert_eq!(form_token(&a), form_token(&a));
        assert_ne!(form_token(&a), form_token(&b));
        assert_ne!(form_token(&a), hex::encode(hash_token(&a)));
        assert!(!form_token(&a).contains(&a[9..]));
    }
}
