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
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Body as _, Frame, Incoming};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use reqwest::header::{HOST, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use tokio::time::Sleep;
use tokio_rustls::rustls::{self, pki_types::CertificateDer};

use super::connect::Connector;
use super::pool::{Conn, Pool, SWEEP_EVERY};
use crate::probe::{Failure, is_allowed_host};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body for a request to a provider.
pub type OutboundBody = UnsyncBoxBody<Bytes, BoxError>;

/// No body.
pub fn empty_body() -> OutboundBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A body known whole.
pub fn full_body(bytes: Bytes) -> OutboundBody {
    Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

/// A body sent on as it arrives.
pub fn streamed_body<S>(stream: S) -> OutboundBody
where
    S: Stream<Item = Result<Bytes, BoxError>> + Send + 'static,
{
    StreamBody::new(futures::TryStreamExt::map_ok(stream, Frame::data)).boxed_unsync()
}

/// At most this much of what already arrived is passed on as one chunk.
const MAX_COALESCED: usize = 64 * 1024;

/// Cheap to clone: the pool is shared.
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<Inner>,
}

struct Inner {
    connector: Connector,
    pool: Pool,
    read_timeout: Duration,
    allow_private: bool,
}

/// A provider's answer: status and headers, and the body still to be read.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: AnswerBody,
}

/// Why an answer's body broke off.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the provider sent nothing for longer than the read timeout")]
    Timeout,
    #[error("the provider's answer broke off: {0}")]
    Broken(#[source] hyper::Error),
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
        let inner = Arc::new(Inner { connector, pool: Pool::default(), read_timeout, allow_private });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(sweep(Arc::downgrade(&inner)));
        }
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

    fn answer(self: &Arc<Self>, origin: String, (response, conn, timer): Exchanged) -> Answer {
        let (parts, body) = response.into_parts();
        let body = AnswerBody { body, conn: Some(conn), origin, upstream: Arc::clone(self), timer, finished: false };
        Answer { status: parts.status, headers: parts.headers, body }
    }
}

/// Sweeps the pool now and then, for as long as the client exists.
async fn sweep(inner: Weak<Inner>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        match inner.upgrade() {
            Some(inner) => inner.pool.sweep(),
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

/// An answer's body, read as the client takes it.
pub struct AnswerBody {
    body: Incoming,
    /// The connection the answer comes on; back to the pool once the body is complete.
    conn: Option<Conn>,
    origin: String,
    upstream: Arc<Inner>,
    timer: Pin<Box<Sleep>>,
    finished: bool,
}

impl AnswerBody {
    fn finish(&mut self) {
        self.finished = true;
        if let Some(conn) = self.conn.take() {
            self.upstream.pool.put(&self.origin, conn);
        }
    }
}

impl Stream for AnswerBody {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        let mut gathered: Option<BytesMut> = None;
        let mut first: Option<Bytes> = None;
        let mut drove = false;
        loop {
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    drove = false;
                    let Ok(data) = frame.into_data() else { continue };
                    match (&mut gathered, first.take()) {
                        (Some(buf), _) => buf.extend_from_slice(&data),
                        (None, None) => first = Some(data),
                        (None, Some(earlier)) => {
                            let mut buf = BytesMut::with_capacity(earlier.len() + data.len());
                            buf.extend_from_slice(&earlier);
                            buf.extend_from_slice(&data);
                            gathered = Some(buf);
                        }
                    }
                    let size = gathered.as_ref().map_or(0, BytesMut::len) + first.as_ref().map_or(0, Bytes::len);
                    if this.body.is_end_stream() {
                        this.finish();
                        break;
                    }
                    if size >= MAX_COALESCED {
                        break;
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.conn = None;
                    this.finished = true;
                    return Poll::Ready(Some(Err(BodyError::Broken(e))));
                }
                Poll::Ready(None) => {
                    this.finish();
                    break;
                }
                Poll::Pending if !drove => {
                    // The connection reads on when the body has room: drive it once
                    // and look again before giving up the turn.
                    drove = true;
                    if let Some(conn) = this.conn.as_mut() {
                        let _ = conn.drive(cx);
                    }
                }
                Poll::Pending => break,
            }
        }
        let data = gathered.map(BytesMut::freeze).or(first);
        match data {
            Some(data) => {
                this.timer.as_mut().reset(tokio::time::Instant::now() + this.upstream.read_timeout);
                Poll::Ready(Some(Ok(data)))
            }
            None if this.finished => Poll::Ready(None),
            None => {
                if this.timer.as_mut().poll(cx).is_ready() {
                    this.conn = None;
                    this.finished = true;
                    return Poll::Ready(Some(Err(BodyError::Timeout)));
                }
                Poll::Pending
            }
        }
    }
}
