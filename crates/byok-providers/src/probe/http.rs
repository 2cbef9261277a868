//! The one outbound HTTP client: pooled, bounded in time and body size, no redirects,
//! no proxies, and behind the SSRF guard.

use std::error::Error as StdError;
use std::time::Duration;

use reqwest::{Client, Method, RequestBuilder, Url, redirect};

use super::guard::{BlockedAddress, GuardedResolver, is_public};
use crate::origin::{host_ip, is_localhost_name};

/// Answers are read up to this size; a probe needs far less.
const MAX_BODY: usize = 1024 * 1024;

/// A provider's answer, its body cut at [`MAX_BODY`].
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why no answer arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    Connect,
    /// The SSRF guard refused the address.
    Blocked,
    Other,
}

pub(crate) struct Http {
    client: Client,
    allow_private: bool,
}

impl Http {
    pub(crate) fn new(
        connect_timeout: Duration,
        total_timeout: Duration,
        allow_private: bool,
    ) -> Result<Self, reqwest::Error> {
        let client = Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(total_timeout)
            .redirect(redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("byok/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(GuardedResolver { allow_private })
            .build()?;
        Ok(Self { client, allow_private })
    }

    pub(crate) fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends a request and reads its answer. Address literals never reach the
    /// resolver, so they are checked here.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Reply, Failure> {
        let request = request.build().map_err(|_| Failure::Other)?;
        if !self.allow_private && !is_allowed_host(request.url()) {
            return Err(Failure::Blocked);
        }
        let mut response = self.client.execute(request).await.map_err(classify)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            let room = MAX_BODY - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() == MAX_BODY {
                break;
            }
        }
        Ok(Reply { status, body })
    }
}

pub(crate) fn is_allowed_host(url: &Url) -> bool {
    match host_ip(url) {
        Some(ip) => is_public(ip),
        None => !url.host_str().is_some_and(is_localhost_name),
    }
}

pub(crate) fn classify(err: reqwest::Error) -> Failure {
    let mut source: Option<&(dyn StdError + 'static)> = Some(&err);
    while let Some(e) = source {
        if e.is::<BlockedAddress>() {
            return Failure::Blocked;
        }
        source = e.source();
    }
    if err.is_timeout() {
        Failure::Timeout
    } else if err.is_connect() {
        Failure::Connect
    } else {
        Failure::Other
    }
}
