//! The provider API surface the proxy reaches for an owner: the catalog's (or the
//! operator's) method and path rules, matched against the path exactly as it will be
//! sent, after the URL parser has resolved any `.` and `..` segments.

use std::borrow::Cow;

use axum::http::Method;
use byok_core::ProviderSpec;
use reqwest::Url;

use super::refusal::Refusal;

/// What an allowed request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// A use: it takes a unit or is counted.
    Use,
    /// A poll of work already paid for (one of `proxy_polls`): neither.
    Poll,
}

/// Refuses a request that none of `spec`'s proxy rules allows, and any path whose
/// segments decode to something other than a plain name (an encoded `/`, `\`, `.` or
/// `..`, a NUL), which a provider might read differently from byok.
pub(super) fn check(spec: &ProviderSpec, method: &Method, url: &Url) -> Result<Reach, Refusal> {
    let refused = || Refusal::PathNotAllowed(spec.name.clone());
    let mut segments: Vec<Cow<'_, str>> = Vec::new();
    for raw in url.path().trim_start_matches('/').split('/') {
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().map_err(|_| refused())?;
        if decoded.contains(['/', '\\', '\0']) || decoded == "." || decoded == ".." {
            return Err(refused());
        }
        segments.push(decoded);
    }
    let segments: Vec<&str> = segments.iter().map(|s| s.as_ref()).collect();
    let matches = |rules: &[byok_core::PathRule]| rules.iter().any(|rule| rule.allows(method.as_str(), &segments));
    if !matches(&spec.proxy_allow) {
        return Err(refused());
    }
    Ok(if matches(&spec.proxy_polls) { Reach::Poll } else { Reach::Use })
}

#[cfg(test)]
mod tests {
    use byok_core::PathRule;

    use super::*;

    fn spec() -> ProviderSpec {
        let mut spec: ProviderSpec = serde_json::from_value(serde_json::json!({
            "id": "p", "name": "P", "category": "llm",
            "fields": [{"name": "api_key", "label": "Key", "secret": true}],
        }))
        .unwrap();
        spec.proxy_allow =
            vec![PathRule::parse("POST /v1/chat/completions").unwrap(), PathRule::parse("GET /v1/files/*").unwrap()];
        spec.proxy_polls =
            vec![PathRule::parse("GET /v1/files/*").unwrap(), PathRule::parse("GET /v1/tasks/*").unwrap()];
        spec
    }

    fn allowed(method: Method, url: &str) -> bool {
        check(&spec(), &method, &Url::parse(url).unwrap()).is_ok()
    }

    #[test]
    fn only_listed_requests_pass() {
        assert!(allowed(Method::POST, "http://h/v1/chat/completions?x=1"));
        assert!(!allowed(Method::GET, "http://h/v1/chat/completions"));
        assert!(!allowed(Method::POST, "http://h/v1/organization/admin_api_keys"));
        assert!(allowed(Method::GET, "http://h/v1/files/file-1"));
    }

    #[test]
    fn polls_are_told_apart_and_still_need_to_be_allowed() {
        let reach = |method: Method, url: &str| check(&spec(), &method, &Url::parse(url).unwrap()).ok();
        assert_eq!(reach(Method::GET, "http://h/v1/files/file-1"), Some(Reach::Poll));
        assert_eq!(reach(Method::POST, "http://h/v1/chat/completions"), Some(Reach::Use));
        assert_eq!(reach(Method::GET, "http://h/v1/tasks/t-1"), None, "a poll outside proxy_allow is refused");
    }

    proptest::proptest! {
        #[test]
        fn any_path_is_checked_without_panic(path in "(/[\\PC%]{0,12}){0,6}") {
            if let Ok(url) = Url::parse(&format!("http://h{path}")) {
                let _ = check(&spec(), &Method::GET, &url);
            }
        }
    }

    #[test]
    fn dot_segments_and_encoded_separators_do_not_get_around_the_rules() {
        assert!(!allowed(Method::POST, "http://h/v1/chat/completions/../../organization/admin_api_keys"));
        assert!(!allowed(Method::POST, "http://h/v1/chat/completions/%2e%2e/%2E%2E/organization/admin_api_keys"));
        assert!(!allowed(Method::GET, "http://h/v1/files/..%2F..%2Forganization"));
        assert!(!allowed(Method::GET, "http://h/v1/files/%2e%2e"));
        assert!(!allowed(Method::GET, "http://h/v1/files/a%5Cb"));
        assert!(!allowed(Method::GET, "http://h/v1/files/a%00"));
        assert!(allowed(Method::GET, "http://h/v1/files/file%2D1"));
    }
}
