//! Origins (`scheme://host[:port]`): the only form a provider's base URL takes, in the
//! catalog and in overrides, so that a provider's own paths can be appended safely.

use std::net::IpAddr;

use reqwest::Url;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub(crate) enum OriginError {
    #[error("is not a URL")]
    NotUrl,
    #[error("must use http or https")]
    Scheme,
    #[error("must name a host")]
    NoHost,
    #[error("must not carry a user name or password")]
    UserInfo,
    #[error("must be an origin only (scheme, host, port), without a path, query or fragment")]
    NotOrigin,
}

/// A checked origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    url: Url,
}

impl Origin {
    pub(crate) fn parse(s: &str) -> Result<Self, OriginError> {
        let url = Url::parse(s.trim()).map_err(|_| OriginError::NotUrl)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OriginError::Scheme);
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(OriginError::NoHost);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OriginError::UserInfo);
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(OriginError::NotOrigin);
        }
        Ok(Self { url })
    }

    /// The origin as text, without a trailing slash: `https://api.openai.com`.
    pub(crate) fn as_string(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    pub(crate) fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// The host as written (a name, or an IP address literal).
    pub(crate) fn host(&self) -> Option<&str> {
        self.url.host_str()
    }

    /// The host when it is an IP address literal.
    pub(crate) fn ip(&self) -> Option<IpAddr> {
        host_ip(&self.url)
    }

    /// Whether the host is a name that always means this machine.
    pub(crate) fn is_localhost_name(&self) -> bool {
        self.url.host_str().is_some_and(is_localhost_name)
    }
}

/// The host of `url` when it is an IP address literal (IPv6 without brackets).
pub(crate) fn host_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// `localhost` and its subdomains resolve to loopback by definition (RFC 6761).
pub(crate) fn is_localhost_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_origins_and_normalises_them() {
        let o = Origin::parse("https://api.openai.com/").unwrap();
        assert_eq!(o.as_string(), "https://api.openai.com");
        let o = Origin::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(o.as_string(), "http://127.0.0.1:8080");
        assert_eq!(o.ip(), Some("127.0.0.1".parse().unwrap()));
        let o = Origin::parse("http://[::1]:9").unwrap();
        assert_eq!(o.ip(), Some("::1".parse().unwrap()));
        assert!(Origin::parse("http://LOCALHOST:1").unwrap().is_localhost_name());
    }

    #[test]
    fn refuses_anything_but_an_origin() {
        assert_eq!(Origin::parse("api.openai.com"), Err(OriginError::NotUrl));
        assert_eq!(Origin::parse("ftp://x.example"), Err(OriginError::Scheme));
        assert_eq!(Origin::parse("https://u:p@x.example"), Err(OriginError::UserInfo));
        assert_eq!(Origin::parse("https://x.example/v1"), Err(OriginError::NotOrigin));
        assert_eq!(Origin::parse("https://x.example/?a=b"), Err(OriginError::NotOrigin));
        assert_eq!(Origin::parse("https://x.example/#f"), Err(OriginError::NotOrigin));
    }
}
