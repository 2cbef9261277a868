//! What the proxy may call at a provider on an owner's behalf: method and path
//! patterns, written in the catalog (and narrowed or widened in the config file).

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// One kind of request the proxy forwards: `"POST /v1/chat/completions"`,
/// `"GET,DELETE /v1/files/*"`, `"* /v1/vector_stores/**"`. Methods are a comma list or
/// `*`. In the path, `*` inside a segment matches any characters of that one segment
/// (never none, never a `/`), and a last segment `**` matches whatever follows,
/// including nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PathRule {
    text: String,
    /// `None`: any method.
    methods: Option<Vec<String>>,
    segments: Vec<String>,
    rest: bool,
}

impl PathRule {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let bad = |reason: &str| DomainError::invalid("proxy path rule", format!("`{text}`: {reason}"));
        let (methods, path) = text.trim().split_once(' ').ok_or_else(|| bad("write METHODS /path"))?;
        let methods = match methods {
            "*" => None,
            list => {
                let names: Vec<String> = list.split(',').map(|m| m.trim().to_owned()).collect();
                if names.iter().any(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase())) {
                    return Err(bad("methods are upper-case names separated by commas, or *"));
                }
                Some(names)
            }
        };
        let path = path.trim();
        let Some(path) = path.strip_prefix('/') else { return Err(bad("the path starts with /")) };
        let mut segments: Vec<String> = path.split('/').map(str::to_owned).collect();
        let rest = segments.last().is_some_and(|s| s == "**");
        if rest {
            segments.pop();
        }
        if segments.iter().any(|s| s.is_empty() || s.contains("**") || s == "." || s == "..") {
            return Err(bad("segments are non-empty, and ** may only be the last one"));
        }
        Ok(PathRule { text: text.trim().to_owned(), methods, segments, rest })
    }

    /// Whether a request with `method` to the path made of `segments` (already
    /// percent-decoded) is allowed by this rule.
    pub fn allows(&self, method: &str, segments: &[&str]) -> bool {
        if let Some(methods) = &self.methods
            && !methods.iter().any(|m| m == method)
        {
            return false;
        }
        let fixed = self.segments.len();
        let length_fits = if self.rest { segments.len() >= fixed } else { segments.len() == fixed };
        length_fits && self.segments.iter().zip(segments).all(|(pattern, segment)| glob(pattern, segment))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl TryFrom<String> for PathRule {
    type Error = DomainError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        PathRule::parse(&text)
    }
}

impl From<PathRule> for String {
    fn from(rule: PathRule) -> String {
        rule.text
    }
}

/// Whether `text` (non-empty) matches `pattern`, where each `*` stands for any run of
/// characters. Greedy with one backtrack point, so linear in practice.
fn glob(pattern: &str, text: &str) -> bool {
    if text.is_empty() {
        return false;
    }
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((star_pi, star_ti)) = star {
            pi = star_pi + 1;
            ti = star_ti + 1;
            star = Some((star_pi, star_ti + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(rule: &str, method: &str, path: &str) -> bool {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        PathRule::parse(rule).unwrap().allows(method, &segments)
    }

    #[test]
    fn literal_paths_and_methods() {
        assert!(allows("POST /v1/chat/completions", "POST", "/v1/chat/completions"));
        assert!(!allows("POST /v1/chat/completions", "GET", "/v1/chat/completions"));
        assert!(!allows("POST /v1/chat/completions", "POST", "/v1/chat/completions/x"));
        assert!(!allows("POST /v1/chat/completions", "POST", "/v1/chat"));
        assert!(allows("GET,DELETE /v1/files/*", "DELETE", "/v1/files/file-abc"));
        assert!(!allows("GET,DELETE /v1/files/*", "POST", "/v1/files/file-abc"));
        assert!(allows("* /v1/models", "HEAD", "/v1/models"));
    }

    #[test]
    fn wildcards_stay_within_their_segment() {
        let rule = "POST /v1beta/models/*:generateContent";
        assert!(allows(rule, "POST", "/v1beta/models/gemini-2.0-flash:generateContent"));
        assert!(!allows(rule, "POST", "/v1beta/models/:generateContent/x"));
        assert!(!allows(rule, "POST", "/v1beta/models/a/b:generateContent"));
        assert!(!allows("GET /v1/files/*", "GET", "/v1/files/"));
        assert!(allows("POST /2010-04-01/Accounts/*/Messages.json", "POST", "/2010-04-01/Accounts/AC1/Messages.json"));
        assert!(!allows("POST /2010-04-01/Accounts/*/Messages.json", "POST", "/2010-04-01/Accounts/AC1/Keys.json"));
        assert!(allows("GET /x/*a*b*", "GET", "/x/aaabbb"));
        assert!(!allows("GET /x/*a*b", "GET", "/x/aaabbba"));
    }

    #[test]
    fn a_final_double_star_takes_the_rest() {
        assert!(allows("* /v1/vector_stores/**", "POST", "/v1/vector_stores"));
        assert!(allows("* /v1/vector_stores/**", "POST", "/v1/vector_stores/vs_1/files/f_2"));
        assert!(!allows("* /v1/vector_stores/**", "POST", "/v1/organization/admin_api_keys"));
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in
            ["/v1/models", "get /v1/models", "GET v1/models", "GET /v1//models", "GET /**/x", "GET /a/../b", "GET, /x"]
        {
            assert!(PathRule::parse(bad).is_err(), "{bad}");
        }
    }
}
