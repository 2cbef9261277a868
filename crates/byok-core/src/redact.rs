//! The one redaction of byok tokens from text a caller controls (paths, request ids,
//! error details), for the server log, the audit log and problem answers alike.

use std::borrow::Cow;

/// What a redacted token reads as.
pub const REDACTED: &str = "[redacted]";

/// `text` with every run of token characters that holds `byok_` (in any case, or
/// percent-encoded as `byok%5F`) replaced by `[redacted]`.
pub fn redact_tokens(text: &str) -> Cow<'_, str> {
    if !holds_token(text) {
        return Cow::Borrowed(text);
    }
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '%' | '.' | '~' | '+' | '=');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| is_token_char(c)) {
        out.push_str(&rest[..start]);
        let run_len = rest[start..].find(|c: char| !is_token_char(c)).unwrap_or(rest.len() - start);
        let run = &rest[start..start + run_len];
        out.push_str(if holds_token(run) { REDACTED } else { run });
        rest = &rest[start + run_len..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Whether `text` holds `byok_` in any case, raw or percent-encoded (checked on every
/// request's path, so without allocating).
fn holds_token(text: &str) -> bool {
    let bytes = text.as_bytes();
    let has = |marker: &[u8]| bytes.windows(marker.len()).any(|w| w.eq_ignore_ascii_case(marker));
    has(b"byok_") || has(b"byok%5f")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_redacted_wherever_they_are() {
        assert_eq!(redact_tokens("/v1/tokens/0193-abc"), "/v1/tokens/0193-abc");
        assert_eq!(redact_tokens("/v1/tokens/byok_vk_0123abcd"), "/v1/tokens/[redacted]");
        assert_eq!(redact_tokens("/v1/tokens/BYOK_VK_0123/x"), "/v1/tokens/[redacted]/x");
        assert_eq!(redact_tokens("/v1/tokens/byok%5Fvk%5F0123"), "/v1/tokens/[redacted]");
        assert_eq!(redact_tokens("GET /a/xbyok_adm_1?q=1 and byok_svc_2."), "GET /a/[redacted]?q=1 and [redacted]");
        assert_eq!(redact_tokens("naïve byok_usr_é"), "naïve [redacted]é");
    }
}
