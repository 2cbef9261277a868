//! A message or email that names no sender goes out from the credential's: Twilio's
//! `phone_number` becomes a message's `From` (unless a `MessagingServiceSid` picks the
//! sender), Resend's `from_email` an email's `from` (each email of a batch).

use std::collections::BTreeMap;

use byok_core::Dialect;
use serde_json::Value;

/// `body` with the credential's sender filled in, when the request sends a message or
/// email without one and the credential has a sender; `None` leaves the body as it is.
pub fn with_default_sender(
    dialect: Dialect,
    method: &str,
    path: &str,
    body: &[u8],
    config: &BTreeMap<String, String>,
) -> Option<Vec<u8>> {
    if method != "POST" {
        return None;
    }
    match dialect {
        Dialect::Twilio if sends_a_message(path) => twilio_from(body, config.get("phone_number")?),
        Dialect::Resend => resend_from(path, body, config.get("from_email")?),
        _ => None,
    }
}

/// `…/Accounts/{AccountSid}/Messages.json`: Twilio's "create a message".
fn sends_a_message(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_end_matches('/').rsplit('/').take(3).collect();
    matches!(segments.as_slice(), ["Messages.json", _, "Accounts"])
}

fn twilio_from(form: &[u8], sender: &str) -> Option<Vec<u8>> {
    let named = form_urlencoded::parse(form).any(|(k, v)| (k == "From" || k == "MessagingServiceSid") && !v.is_empty());
    if named || sender.is_empty() {
        return None;
    }
    let mut out = form.to_vec();
    if !out.is_empty() && !out.ends_with(b"&") {
        out.push(b'&');
    }
    out.extend_from_slice(
        form_urlencoded::Serializer::new(String::new()).append_pair("From", sender).finish().as_bytes(),
    );
    Some(out)
}

fn resend_from(path: &str, body: &[u8], sender: &str) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let filled = match (path.trim_end_matches('/'), &mut value) {
        ("/emails", Value::Object(_)) => fill_from(&mut value, sender),
        ("/emails/batch", Value::Array(emails)) => emails.iter_mut().fold(false, |any, e| fill_from(e, sender) | any),
        _ => false,
    };
    filled.then(|| value.to_string().into_bytes())
}

/// Sets `from` on an email object that has none; whether it did.
fn fill_from(email: &mut Value, sender: &str) -> bool {
    let Some(email) = email.as_object_mut() else { return false };
    if email.get("from").is_some_and(|f| !f.is_null()) || sender.is_empty() {
        return false;
    }
    email.insert("from".to_owned(), Value::String(sender.to_owned()));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const MESSAGES: &str = "/2010-04-01/Accounts/ACfa4e/Messages.json";

    #[test]
    fn a_message_without_a_sender_gets_the_credentials_number() {
        let twilio = config(&[("account_sid", "ACfa4e"), ("phone_number", "+15005550006")]);
        let fill = |method: &str, path: &str, body: &str| {
            with_default_sender(Dialect::Twilio, method, path, body.as_bytes(), &twilio)
                .map(|b| String::from_utf8(b).unwrap())
        };
        assert_eq!(
            fill("POST", MESSAGES, "To=%2B15558675310&Body=Hi").unwrap(),
            "To=%2B15558675310&Body=Hi&From=%2B15005550006"
        );
        assert_eq!(fill("POST", MESSAGES, "").unwrap(), "From=%2B15005550006");
        assert_eq!(fill("POST", MESSAGES, "To=1&From=%2B15005550001"), None, "a sender given is kept");
        assert_eq!(
            fill("POST", MESSAGES, "To=1&MessagingServiceSid=MG1"),
            None,
            "a messaging service picks the sender"
        );
        assert_eq!(fill("GET", MESSAGES, "To=1"), None);
        assert_eq!(fill("POST", "/2010-04-01/Accounts/ACfa4e/Calls.json", "To=1"), None);
        let without = config(&[("account_sid", "ACfa4e")]);
        assert_eq!(with_default_sender(Dialect::Twilio, "POST", MESSAGES, b"To=1", &without), None);
    }

    #[test]
    fn an_email_without_a_sender_gets_the_credentials_address() {
        let resend = config(&[("from_email", "hello@example.com")]);
        let fill = |path: &str, body: &str| {
            with_default_sender(Dialect::Resend, "POST", path, body.as_bytes(), &resend)
                .map(|b| serde_json::from_slice::<Value>(&b).unwrap())
        };
        let sent = fill("/emails", r#"{"to":["a@b.co"],"subject":"Hi","html":"<p>Hi</p>"}"#).unwrap();
        assert_eq!((sent["from"].as_str(), sent["subject"].as_str()), (Some("hello@example.com"), Some("Hi")));
        assert_eq!(fill("/emails", r#"{"from":"me@example.com","to":["a@b.co"]}"#), None);
        let batch = fill("/emails/batch", r#"[{"to":["a@b.co"]},{"from":"me@example.com","to":["c@d.co"]}]"#).unwrap();
        assert_eq!(batch[0]["from"], "hello@example.com");
        assert_eq!(batch[1]["from"], "me@example.com");
        assert_eq!(fill("/emails/batch", r#"[{"from":"me@example.com"}]"#), None);
        assert_eq!(fill("/emails", "not json"), None);
        assert_eq!(fill("/domains", r#"{"name":"example.com"}"#), None);
        assert_eq!(with_default_sender(Dialect::Openai, "POST", "/emails", b"{}", &resend), None);
    }
}
