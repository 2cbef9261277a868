//! The provider's answer on its way back: status and headers as they came, the body
//! streamed chunk by chunk as it arrives, its token usage read in passing, and the
//! request's usage recorded when the stream ends, fails, or the client goes away. The
//! answer of a request under a token budget ends only once its tokens are written: a
//! request that starts after it is over, on any instance, sees them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use byok_core::ProviderId;
use byok_providers::{Answer, AnswerBody, BodyError, UsageMeter};
use futures::Stream;
use tokio::sync::oneshot;

use super::forward::response_headers;
use crate::usage_writer::{UsageEvent, UsageWriter};

/// How many times the request went out (more than once when a refused key's request
/// went out again with the next key).
const ATTEMPTS: HeaderName = HeaderName::from_static("x-byok-attempts");

/// What to record once the answer is over.
pub(super) struct Settlement {
    pub writer: UsageWriter,
    pub event: UsageEvent,
    pub provider: ProviderId,
    pub status: u16,
    pub started: Instant,
    /// Whether the virtual key or the credential has a token budget: the answer ends
    /// once its tokens are written.
    pub budgeted: bool,
}

impl Settlement {
    /// Records a request that got no answer from the provider (its unit stays taken).
    pub(super) fn unanswered(self) {
        self.settle(None, "no answer");
    }

    /// Records an attempt that failed and goes out again with the next key: its use of
    /// the credential counts; the virtual key's request is counted with the attempt
    /// that answers.
    pub(super) fn failed_attempt(mut self) {
        self.event.count_request = false;
        self.settle(None, "failed; sent again with the next key");
    }

    fn settle(self, tokens: Option<u64>, ending: &'static str) {
        let (writer, event) = self.logged(tokens, ending);
        writer.record(event);
    }

    /// [`Self::settle`] without the writer's gathering pause: the receiver hears when
    /// the counts are written.
    fn settle_durably(self, tokens: Option<u64>, ending: &'static str) -> oneshot::Receiver<()> {
        let (writer, event) = self.logged(tokens, ending);
        writer.record_durably(event)
    }

    fn logged(mut self, tokens: Option<u64>, ending: &'static str) -> (UsageWriter, UsageEvent) {
        self.event.tokens = tokens.unwrap_or(0);
        tracing::info!(
            provider = %self.provider,
            status = self.status,
            credential_id = ?self.event.credential,
            virtual_key = ?self.event.virtual_key,
            tokens = ?tokens,
            ending,
            elapsed_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "proxied request finished"
        );
        (self.writer, self.event)
    }
}

/// The answer's body: every chunk is passed on as soon as it arrives.
struct Metered {
    inner: AnswerBody,
    meter: UsageMeter,
    settlement: Option<Settlement>,
    /// The end of a budgeted answer, held until its tokens are written.
    held_end: Option<oneshot::Receiver<()>>,
}

impl Stream for Metered {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(written) = &mut this.held_end {
            return match Pin::new(written).poll(cx) {
                Poll::Ready(_) => {
                    this.held_end = None;
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            };
        }
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => this.meter.feed(chunk),
            Poll::Ready(Some(Err(e))) => {
                tracing::warn!(error = %e, "the provider's answer broke off; the client sees the stream end");
                if let Some(s) = this.settlement.take() {
                    s.settle(this.meter.finish(), "upstream error");
                }
            }
            Poll::Ready(None) => match this.settlement.take() {
                Some(s) if s.budgeted => {
                    this.held_end = Some(s.settle_durably(this.meter.finish(), "complete"));
                    return self.poll_next(cx);
                }
                Some(s) => s.settle(this.meter.finish(), "complete"),
                None => {}
            },
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        // Also the usual end of an answer of known length: the server stops polling once
        // it has sent every byte.
        if let Some(s) = self.settlement.take() {
            s.settle(self.meter.finish(), "body done");
        }
    }
}

/// The client's answer for the provider's `upstream` answer.
pub(super) fn stream_back(upstream: Answer, settlement: Settlement, attempts: u32) -> Response {
    let status = StatusCode::from_u16(upstream.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = response_headers(&upstream.headers);
    if settlement.budgeted {
        // Without a length the server reads the body to its end, which is held.
        headers.remove(header::CONTENT_LENGTH);
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let meter = UsageMeter::for_content_type(content_type);
    let body = Metered { inner: upstream.body, meter, settlement: Some(settlement), held_end: None };
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response.headers_mut().insert(ATTEMPTS, HeaderValue::from(attempts));
    response
}
