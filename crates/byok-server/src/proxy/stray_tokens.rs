//! byok tokens where the proxy would forward them. Once the authenticating key is
//! taken out, no byok token may reach a provider in any form: raw, percent-encoded
//! (once or more), base64 (standard or URL-safe, at any alignment) or as JSON escapes.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use byok_core::Role;

/// The prefixes, and the base64 text that always appears where a prefix is encoded.
static PATTERNS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let mut patterns: Vec<String> = Vec::new();
    for role in [Role::Admin, Role::Service, Role::User, Role::Virtual] {
        let prefix = role.token_prefix();
        patterns.push(prefix.to_owned());
        for offset in 0..3 {
            for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
                patterns.push(stable_base64(&engine, prefix.as_bytes(), offset));
            }
        }
    }
    patterns.sort();
    patterns.dedup();
    AhoCorasick::new(&patterns).expect("fixed patterns")
});

/// The characters of `needle`'s base64 encoding that do not depend on the bytes
/// around it, when it starts `offset` bytes into a 3-byte group.
fn stable_base64(engine: &impl Engine, needle: &[u8], offset: usize) -> String {
    let mut padded = vec![0u8; offset];
    padded.extend_from_slice(needle);
    let encoded = engine.encode(&padded);
    let (start_bit, end_bit) = (8 * offset, 8 * (offset + needle.len()));
    encoded.char_indices().filter(|(i, _)| 6 * i >= start_bit && 6 * i + 6 <= end_bit).map(|(_, c)| c).collect()
}

/// Whether `text` carries a byok token in any form this module knows.
pub(super) fn carries_token(text: &[u8]) -> bool {
    if PATTERNS.is_match(text) {
        return true;
    }
    // Percent-encoding, however many times it was applied; most text has none, and is
    // not copied.
    let mut decoded: Option<Vec<u8>> = None;
    loop {
        let current = decoded.as_deref().unwrap_or(text);
        if !current.contains(&b'%') {
            return false;
        }
        let once: Vec<u8> = percent_encoding::percent_decode(current).collect();
        if once == current {
            return false;
        }
        if PATTERNS.is_match(&once) {
            return true;
        }
        decoded = Some(once);
    }
}

/// Whether a JSON body carries a byok token, also behind `\u` escapes.
pub(super) fn json_carries_token(body: &[u8]) -> bool {
    if carries_token(body) {
        return true;
    }
    if !body.windows(2).any(|w| w == b"\\u") {
        return false;
    }
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|value| value_carries_token(&value))
}

fn value_carries_token(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => carries_token(s.as_bytes()),
        Value::Array(items) => items.iter().any(value_carries_token),
        Value::Object(map) => map.iter().any(|(k, v)| carries_token(k.as_bytes()) || value_carries_token(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VK: &str = "byok_vk_9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn finds_a_token_in_every_form() {
        let b64 = |s: &str| STANDARD_NO_PAD.encode(s);
        let url64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let forms = [
            VK.to_owned(),
            format!("prefix {VK}"),
            VK.replace('_', "%5F"),
            VK.replace('_', "%5f").replace('%', "%25"),
            VK.bytes().map(|b| format!("%{b:02X}")).collect(),
            b64(VK),
            b64(&format!("x{VK}")),
            b64(&format!("xy{VK}")),
            url64(&format!("user:{VK}")),
            format!("Basic {}", b64(&format!("AC123:{VK}"))),
            "byok_svc_abc".to_owned(),
            "byok_usr_abc".to_owned(),
            "byok_adm_abc".to_owned(),
        ];
        for form in forms {
            assert!(carries_token(form.as_bytes()), "{form}");
        }
    }

    #[test]
    fn json_escapes_are_seen_through() {
        let escaped = format!(r#"{{"note": "\u0062yok_vk_{}"}}"#, &VK[8..]);
        assert!(!carries_token(escaped.as_bytes()));
        assert!(json_carries_token(escaped.as_bytes()));
        let in_key = r#"{"\u0062yok_vk_x": 1}"#;
        assert!(json_carries_token(in_key.as_bytes()));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_checked_without_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = carries_token(&bytes);
            let _ = json_carries_token(&bytes);
        }

        #[test]
        fn a_token_is_found_whatever_surrounds_it(before in "\\PC{0,40}", after in "\\PC{0,40}", encode in 0u8..4) {
            let text = format!("{before}{VK}{after}");
            let form = match encode {
                0 => text,
                1 => text.bytes().map(|b| format!("%{b:02x}")).collect(),
                2 => STANDARD_NO_PAD.encode(&text),
                _ => URL_SAFE_NO_PAD.encode(&text),
            };
            proptest::prop_assert!(carries_token(form.as_bytes()), "{}", form);
        }
    }

    #[test]
    fn ordinary_requests_pass() {
        let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is byok? 100% sure"}]}"#;
        assert!(!json_carries_token(body.as_bytes()));
        assert!(!carries_token(b"Bearer sk-proj-0123456789abcdef"));
        assert!(!carries_token(b"%E2%82%AC%"));
        assert!(!carries_token(b"byok_other"));
    }
}
