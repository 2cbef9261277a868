//! The proxy's outbound client: keep-alive HTTP/1.1 connections pooled per origin, a
//! bounded connect time and a bounded wait for each read (no bound on a whole answer,
//! so long streams live), no redirects, no proxies, and the same SSRF guard as the
//! probes.
//!
//! Each connection is driven by the task that uses it instead of a task of its own:
//! the request, the answer's headers and every chunk of its body need no hand-off
//! between tasks, and whatever the provider has already sent is passed on in one
//! piece rather than one write per chunk.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::Poll;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use reqwest::header::{HOST, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use tokio::time::Sleep;
use tokio_rustls::rustls::{self, pki_types::CertificateDer};

use super::answer_body::AnswerBody;
use super::connect::Connector;
use super::outbound_body::OutboundBody;
use super::pool::{Conn, Pool, SWEEP_EVERY};
use crate::probe::{Failure, is_allowed_host};

/// Cheap to clone: the pool is shared.
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<Inner>,
}

struct Inner {
    connector: Connector,
    pool: Arc<Pool>,
    read_timeout: Duration,
    allow_private: bool,
}

/// A provider's answer: status and headers, and the body still to be read.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: AnswerBody,
}

enum Exchange {
    /// The connection was closed before the request went out; it can go on another.
    NotSent(Box<hyper::Request<OutboundBody>>),
    Failed(Failure),
}

impl Upstream {
    pub(crate) fn new(
        connect_timeout: Duration,
        read_timeout: Duration,
        allow_private: bool,
    ) -> Result<Self, rustls::Error> {
        Self::with_roots(connect_timeout, read_timeout, allow_private, Vec::new())
    }

    /// Also trusting `extra_roots`, for tests with their own certificate authority.
    pub(crate) fn with_roots(
        connect_timeout: Duration,
        read_timeout: Duration,
        allow_private: bool,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Result<Self, rustls::Error> {
        let connector = Connector::new(connect_timeout, allow_private, extra_roots)?;
        let pool = Arc::new(Pool::default());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(sweep(Arc::downgrade(&pool)));
        }
        let inner = Arc::new(Inner { connector, pool, read_timeout, allow_private });
        Ok(Self { inner })
    }

    /// How many idle connections the pool holds after a sweep.
    #[cfg(test)]
    pub(super) fn swept_idle_connections(&self) -> usize {
        self.inner.pool.sweep();
        self.inner.pool.len()
    }

    /// Sends a request and answers as soon as the status and headers arrive; the body
    /// is the caller's to stream. Address literals never reach the resolver, so they
    /// are checked here.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        mut headers: HeaderMap,
        body: OutboundBody,
    ) -> Result<Answer, Failure> {
        let inner = &self.inner;
        if !inner.allow_private && !is_allowed_host(url) {
            return Err(Failure::Blocked);
        }
        let origin = url.origin().ascii_serialization();
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        headers.insert(HOST, HeaderValue::from_str(&host).map_err(|_| Failure::Other)?);
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let mut request =
            hyper::Request::builder().method(method).uri(target).body(body).map_err(|_| Failure::Other)?;
        *request.headers_mut() = headers;

        let (conn, request) = match inner.pool.take(&origin) {
            Some(conn) => match exchange(conn, request, inner.read_timeout).await {
                Ok(done) => return Ok(inner.answer(origin, done)),
                Err(Exchange::NotSent(request)) => (inner.open(url).await?, *request),
                Err(Exchange::Failed(failure)) => return Err(failure),
            },
            None => (inner.open(url).await?, request),
        };
        match exchange(conn, request, inner.read_timeout).await {
            Ok(done) => Ok(inner.answer(origin, done)),
            Err(Exchange::NotSent(_)) => Err(Failure::Connect),
            Err(Exchange::Failed(failure)) => Err(failure),
        }
    }
}

impl Inner {
    async fn open(&self, url: &Url) -> Result<Conn, Failure> {
        let stream = self.connector.connect(url).await?;
        let (sender, driver) = http1::handshake(TokioIo::new(stream)).await.map_err(|_| Failure::Connect)?;
        Ok(Conn::new(sender, driver))
    }

    fn answer(&self, origin: String, (response, conn, timer): Exchanged) -> Answer {
        let (parts, body) = response.into_parts();
        let body = AnswerBody::new(body, conn, origin, Arc::clone(&self.pool), self.read_timeout, timer);
        Answer { status: parts.status, headers: parts.headers, body }
    }
}

/// Sweeps the pool now and then, for as long as the client exists.
async fn sweep(pool: Weak<Pool>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        match pool.upgrade() {
            Some(pool) => pool.sweep(),
            None => return,
        }
    }
}

type Exchanged = (hyper::Response<Incoming>, Conn, Pin<Box<Sleep>>);

/// Sends `request` on `conn`, driving the connection until the answer's headers arrive.
async fn exchange(
    mut conn: Conn,
    request: hyper::Request<OutboundBody>,
    read_timeout: Duration,
) -> Result<Exchanged, Exchange> {
    let mut answer = std::pin::pin!(conn.sender.try_send_request(request));
    let mut timer = Box::pin(tokio::time::sleep(read_timeout));
    let response = poll_fn(|cx| {
        let driven = conn.drive(cx);
        if let Poll::Ready(result) = answer.as_mut().poll(cx) {
            return Poll::Ready(result.map_err(|mut e| match e.take_message() {
                Some(request) => Exchange::NotSent(Box::new(request)),
                None => Exchange::Failed(Failure::Other),
            }));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(Exchange::Failed(Failure::Timeout)));
        }
        if driven.is_ready() {
            return Poll::Ready(Err(Exchange::Failed(Failure::Other)));
        }
        Poll::Pending
    })
    .await?;
    timer.as_mut().reset(tokio::time::Instant::now() + read_timeout);
    Ok((response, conn, timer))
}
