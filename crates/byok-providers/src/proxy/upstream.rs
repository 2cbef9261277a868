//! The proxy's outbound client: one pool of keep-alive connections, bounded connect
//! and idle-read times (no bound on a whole answer, so long streams live), no
//! redirects, no proxies, and the same SSRF guard as the probes.

use std::time::Duration;

use reqwest::{Client, Method, Request, RequestBuilder, Response, Url, redirect};

use crate::probe::{Failure, GuardedResolver, classify, is_allowed_host};

/// Idle connections kept per upstream host.
const MAX_IDLE_PER_HOST: usize = 1024;
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Cheap to clone: the pool is shared.
#[derive(Clone)]
pub struct Upstream {
    client: Client,
    allow_private: bool,
}

impl Upstream {
    pub(crate) fn new(
        connect_timeout: Duration,
        read_timeout: Duration,
        allow_private: bool,
    ) -> Result<Self, reqwest::Error> {
        let client = Client::builder()
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .tcp_nodelay(true)
            .redirect(redirect::Policy::none())
            .no_proxy()
            .dns_resolver(GuardedResolver { allow_private })
            .build()?;
        Ok(Self { client, allow_private })
    }

    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends a request and answers as soon as the status and headers arrive; the body
    /// is the caller's to stream. Address literals never reach the resolver, so they
    /// are checked here.
    pub async fn send(&self, request: Request) -> Result<Response, Failure> {
        if !self.allow_private && !is_allowed_host(request.url()) {
            return Err(Failure::Blocked);
        }
        self.client.execute(request).await.map_err(classify)
    }
}
