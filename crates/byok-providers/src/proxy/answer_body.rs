//! A provider's answer body as the proxy reads it: the connection it comes on is
//! driven by the reader itself, what has already arrived goes on in one piece, a
//! provider silent for longer than the read timeout is cut off, and the connection
//! goes back to the pool once the body is read to its end.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use hyper::body::{Body as _, Incoming};
use tokio::time::Sleep;

use super::pool::{Conn, Pool};

/// At most this much of what already arrived is passed on as one chunk.
const MAX_COALESCED: usize = 64 * 1024;

/// Why an answer's body broke off.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the provider sent nothing for longer than the read timeout")]
    Timeout,
    #[error("the provider's answer broke off: {0}")]
    Broken(#[source] hyper::Error),
}

/// An answer's body, read as the client takes it.
pub struct AnswerBody {
    body: Incoming,
    /// The connection the answer comes on; back to the pool once the body is complete.
    conn: Option<Conn>,
    origin: String,
    pool: Arc<Pool>,
    read_timeout: Duration,
    timer: Pin<Box<Sleep>>,
    finished: bool,
}

impl AnswerBody {
    /// The body of an answer whose headers came on `conn`; `timer` bounds the wait for
    /// its first chunk.
    pub(super) fn new(
        body: Incoming,
        conn: Conn,
        origin: String,
        pool: Arc<Pool>,
        read_timeout: Duration,
        timer: Pin<Box<Sleep>>,
    ) -> Self {
        Self { body, conn: Some(conn), origin, pool, read_timeout, timer, finished: false }
    }

    fn finish(&mut self) {
        self.finished = true;
        if let Some(conn) = self.conn.take() {
            self.pool.put(&self.origin, conn);
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
                this.timer.as_mut().reset(tokio::time::Instant::now() + this.read_timeout);
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
