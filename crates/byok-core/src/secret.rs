use std::collections::BTreeMap;
use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string. Its memory is wiped on drop, and it prints as `[redacted]` in
/// `Debug` and `Display`. It deliberately implements neither `Serialize` nor `Clone`
/// implicitly-by-derive elsewhere: the one way out is [`SecretValue::expose`].
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    /// The plaintext. Call sites are the few places a secret may go: sealing,
    /// hint computation, a service's resolve answer, a proxied request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The secret fields of one credential, by field name.
pub type SecretFields = BTreeMap<String, SecretValue>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_print_the_value() {
        let s = SecretValue::new("sk-canary-123456".into());
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        let mut fields = SecretFields::new();
        fields.insert("api_key".into(), s);
        assert!(!format!("{fields:?}").contains("canary"));
    }

    #[test]
    fn zeroize_wipes_the_bytes() {
        let mut s = SecretValue::new("sk-canary-123456".into());
        s.zeroize();
        assert_eq!(s.expose(), "");
    }
}
