//! The signed JWT of Google's service-account grant (RFC 7523): RS256 over
//! `iss`, `scope`, `aud`, `iat` and `exp`, with the key file's PKCS#8 private key.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::json;

/// How long the assertion is valid; Google accepts at most an hour.
const LIFETIME_SECS: u64 = 3600;

/// The parts of a service-account key file the grant needs.
#[derive(Deserialize)]
pub(crate) struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
}

impl KeyFile {
    /// Parses a key file. Errors are fixed sentences: nothing of the file is repeated.
    pub(crate) fn parse(json: &str) -> Result<Self, &'static str> {
        let file: KeyFile =
            serde_json::from_str(json).map_err(|_| "The service account key file is not valid JSON.")?;
        if file.kind.as_deref().is_some_and(|k| k != "service_account") {
            return Err("The key file is not a service account key (its type is not service_account).");
        }
        if file.client_email.as_deref().is_none_or(str::is_empty) {
            return Err("The service account key file has no client_email.");
        }
        if file.private_key.as_deref().is_none_or(str::is_empty) {
            return Err("The service account key file has no private_key.");
        }
        Ok(file)
    }

    /// A signed assertion for `audience` (the token endpoint), issued now.
    pub(crate) fn assertion(&self, scope: &str, audience: &str) -> Result<String, &'static str> {
        const BAD_KEY: &str = "The key file's private_key is not a PEM-encoded PKCS#8 RSA private key.";
        let der = pem_body(self.private_key.as_deref().unwrap_or_default(), "PRIVATE KEY").ok_or(BAD_KEY)?;
        let key = RsaKeyPair::from_pkcs8(&der).map_err(|_| BAD_KEY)?;
        let now =
            SystemTime::now().duration_since(UNIX_EPOCH).map_err(|_| "The system clock is before 1970.")?.as_secs();
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.private_key_id {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": self.client_email,
            "scope": scope,
            "aud": audience,
            "iat": now,
            "exp": now + LIFETIME_SECS,
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| BAD_KEY)?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The DER bytes of the first PEM block labelled `label`.
fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let len = pem[start..].find(&end)?;
    let base64: String = pem[start..start + len].chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(base64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_key_files_get_fixed_messages() {
        let canary = "canary-0123456789";
        for (json, says) in [
            (format!("{{not json {canary}"), "not valid JSON"),
            (
                format!(r#"{{"type":"authorized_user","client_email":"a@b","private_key":"{canary}"}}"#),
                "not a service account",
            ),
            (format!(r#"{{"private_key":"{canary}"}}"#), "client_email"),
            (r#"{"client_email":"a@b"}"#.to_owned(), "private_key"),
        ] {
            let err = KeyFile::parse(&json).err().unwrap();
            assert!(err.contains(says), "{err}");
            assert!(!err.contains(canary));
        }
        let not_pem = KeyFile::parse(&format!(r#"{{"client_email":"a@b","private_key":"{canary}"}}"#)).unwrap();
        let err = not_pem.assertion("s", "a").err().unwrap();
        assert!(err.contains("PKCS#8") && !err.contains(canary));
    }

    #[test]
    fn pem_blocks_decode() {
        let pem = "-----BEGIN PRIVATE KEY-----\nAAEC\nAw==\n-----END PRIVATE KEY-----\n";
        assert_eq!(pem_body(pem, "PRIVATE KEY"), Some(vec![0, 1, 2, 3]));
        assert_eq!(pem_body(pem, "PUBLIC KEY"), None);
    }
}
