//! Probe paths with `{field}` placeholders, filled from a credential's public fields.

/// The field names a path template refers to.
pub(crate) fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        names.push(&after[..end]);
        rest = &after[end + 1..];
    }
    names
}

/// Fills every placeholder with its value, percent-encoded as one path segment.
/// Answers the name of the first placeholder without a usable value (none, or a dot
/// segment that URL parsing would resolve away).
pub(crate) fn fill<'t, 'v>(template: &'t str, value: impl Fn(&str) -> Option<&'v str>) -> Result<String, &'t str> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        out.push_str(&rest[..start]);
        let v = value(name).filter(|v| !matches!(*v, "" | "." | "..")).ok_or(name)?;
        out.push_str(&encode_segment(v));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_fills_placeholders() {
        let t = "/2010-04-01/Accounts/{account_sid}.json";
        assert_eq!(placeholders(t), vec!["account_sid"]);
        let filled = fill(t, |n| (n == "account_sid").then_some("AC12")).unwrap();
        assert_eq!(filled, "/2010-04-01/Accounts/AC12.json");
        assert_eq!(fill(t, |_| None), Err("account_sid"));
        assert_eq!(placeholders("/v1/models"), Vec::<&str>::new());
    }

    #[test]
    fn encodes_values_so_they_stay_one_segment() {
        let filled = fill("/{t}/token", |_| Some("a/../b?c")).unwrap();
        assert_eq!(filled, "/a%2F..%2Fb%3Fc/token");
        assert_eq!(fill("/{t}/token", |_| Some("..")), Err("t"));
    }
}
