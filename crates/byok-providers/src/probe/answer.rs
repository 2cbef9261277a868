//! Reading a provider's error answer into words for people, without ever repeating a
//! secret. Providers sometimes echo the submitted key (OpenAI: "Incorrect API key
//! provided: sk-…abcd"), so only short identifiers and plain sentences are taken from
//! them, and every message is scrubbed of the secret values at the end.

use byok_core::SecretFields;
use serde_json::Value;

use super::outcome::{ProbeOutcomeKind, Verdict};

/// What a provider said about a failed request, reduced to what may be shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Detail {
    /// The provider's own error codes (`invalid_api_key`, `20003` …).
    pub codes: Vec<String>,
    /// The provider's message when it is a plain sentence with nothing key-like in it.
    pub text: Option<String>,
    pub status: u16,
}

impl Detail {
    /// The verdict `kind` for provider `name`, in words that name the provider's reason.
    pub(crate) fn verdict(&self, name: &str, kind: ProbeOutcomeKind) -> Verdict {
        let message = match kind {
            ProbeOutcomeKind::Connected => format!("{name} accepted the credentials."),
            ProbeOutcomeKind::Invalid => self.sentence(&format!("{name} rejected the credentials")),
            ProbeOutcomeKind::Restricted => {
                self.sentence(&format!("{name} accepted the credentials but refused this request"))
            }
            ProbeOutcomeKind::Unavailable => {
                let prefix = match self.status {
                    429 => format!("{name} is limiting requests"),
                    500..=599 => format!("{name} had a server error"),
                    _ => format!("{name} gave an unexpected answer"),
                };
                format!("{} Try again later.", self.sentence(&prefix))
            }
        };
        Verdict::new(kind, message)
    }

    /// `<prefix>: <text> (<codes>, HTTP <status>).`, leaving out what is missing.
    pub(crate) fn sentence(&self, prefix: &str) -> String {
        let mut paren: Vec<String> = self.codes.clone();
        paren.push(format!("HTTP {}", self.status));
        let paren = paren.join(", ");
        match &self.text {
            Some(text) => format!("{prefix}: {} ({paren}).", text.trim_end_matches('.')),
            None => format!("{prefix} ({paren})."),
        }
    }
}

/// The values at `pointers` that are short identifiers (strings or numbers), in order,
/// without repeats.
pub(crate) fn codes_at(json: Option<&Value>, pointers: &[String]) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for value in pointers.iter().filter_map(|p| json?.pointer(p)) {
        if let Some(code) = safe_code(value)
            && !codes.contains(&code)
        {
            codes.push(code);
        }
    }
    codes
}

/// The first string at `pointers`, unfiltered: for matching rules, never for showing.
pub(crate) fn raw_text_at(json: Option<&Value>, pointers: &[String]) -> Option<String> {
    pointers.iter().filter_map(|p| json?.pointer(p)?.as_str()).next().map(str::to_owned)
}

/// A short identifier: letters, digits and `_ . : -`, or a number.
pub(crate) fn safe_code(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let ok = (1..=64).contains(&text.len())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'));
    ok.then_some(text)
}

/// The first clause of the provider's message (up to the first `:` or sentence end)
/// when it is short plain prose: at least two words of letters, spaces and light
/// punctuation, no digits, no masking (`*`, `...`), and no word of four or more letters
/// that occurs in a secret. "Incorrect API key provided: sk-…" gives "Incorrect API key
/// provided"; anything key-like gives nothing.
pub(crate) fn safe_text(raw: &str, secrets: &SecretFields) -> Option<String> {
    let end = [raw.find(':'), raw.find(". ")].into_iter().flatten().min().unwrap_or(raw.len());
    let text = raw[..end].trim().trim_end_matches('.');
    let plain = (1..=160).contains(&text.len())
        && text.contains(' ')
        && text.chars().all(|c| c.is_ascii_alphabetic() || matches!(c, ' ' | ',' | '\'' | '(' | ')' | '-'));
    if !plain {
        return None;
    }
    let echoes_secret = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|word| word.len() >= 4)
        .any(|word| secrets.values().any(|s| s.expose().contains(word)));
    (!echoes_secret).then(|| text.to_owned())
}

/// Replaces every occurrence of a secret value in `message`: the last line of defence.
pub(crate) fn scrub(mut message: String, secrets: &SecretFields) -> String {
    for secret in secrets.values() {
        let value = secret.expose().trim();
        if value.len() >= 4 && message.contains(value) {
            message = message.replace(value, "[redacted]");
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use byok_core::SecretValue;
    use serde_json::json;

    use super::*;

    fn secrets(key: &str) -> SecretFields {
        SecretFields::from([("api_key".to_owned(), SecretValue::new(key.to_owned()))])
    }

    #[test]
    fn codes_are_identifiers_only() {
        let body = json!({"error": {"code": "invalid_api_key", "type": "invalid_request_error",
            "message": "x"}, "n": 20003, "bad": "has spaces"});
        let pointers = ["/error/code", "/error/type", "/n", "/bad", "/missing"].map(String::from);
        assert_eq!(codes_at(Some(&body), &pointers), vec!["invalid_api_key", "invalid_request_error", "20003"]);
        assert!(codes_at(None, &pointers).is_empty());
    }

    #[test]
    fn provider_text_is_shown_only_when_plain_and_free_of_the_key() {
        let s = secrets("sk-proj-abcdEFGHijkl0123wxyz");
        let shown = |t: &str| safe_text(t, &s);
        assert_eq!(shown("Invalid API Key").as_deref(), Some("Invalid API Key"));
        assert_eq!(shown("API key not valid. Please pass a valid API key.").as_deref(), Some("API key not valid"));
        assert_eq!(
            shown(
                "Incorrect API key provided: sk-proj-****wxyz. You can find your API key at \
                 https://platform.openai.com/account/api-keys."
            )
            .as_deref(),
            Some("Incorrect API key provided")
        );
        for echoing in [
            "Key sk-abc...xyz is wrong",
            "Key abcdEFGH is wrong",
            "Key sk-proj-abcdEFGHijkl0123wxyz is wrong",
            "AADSTS7000215: Invalid client secret provided.",
            "Authenticate",
        ] {
            assert_eq!(shown(echoing), None, "{echoing}");
        }
    }

    #[test]
    fn sentences_name_the_reason() {
        let d = Detail { codes: vec!["invalid_api_key".into()], text: Some("Invalid API Key.".into()), status: 401 };
        assert_eq!(
            d.sentence("Groq rejected the key"),
            "Groq rejected the key: Invalid API Key (invalid_api_key, HTTP 401)."
        );
        let d = Detail { status: 503, ..Detail::default() };
        assert_eq!(d.sentence("Groq failed"), "Groq failed (HTTP 503).");
    }

    #[test]
    fn scrub_removes_every_secret_value() {
        let s = secrets("sk-canary-0123456789");
        assert_eq!(
            scrub("got sk-canary-0123456789 twice: sk-canary-0123456789".into(), &s),
            "got [redacted] twice: [redacted]"
        );
    }
}
