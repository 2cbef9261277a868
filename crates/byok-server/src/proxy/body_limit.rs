//! The proxy's limit on a request body, and what happens to the rest of a body it
//! refuses: what the client already sent is read and thrown away (bounded in bytes and
//! time) before the 413 goes out. A socket closed with unread data answers with a
//! reset, which can reach the client before the 413 does and lose it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use futures::{Stream, StreamExt};
use tokio::time::Sleep;

/// Most of a refused body read and thrown away before the refusal is sent, and how long
/// that may take.
const DRAIN_BYTES: usize = 64 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Reads and drops what the client sent of a refused body (see the module's docs).
pub(super) async fn drain<S, E>(mut stream: S)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut left = DRAIN_BYTES;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            left = left.saturating_sub(chunk.len());
            if left == 0 {
                break;
            }
        }
    })
    .await;
}

#[derive(Debug, thiserror::Error)]
#[error("the request body is larger than the proxy's limit")]
struct TooLarge;

/// A streamed body that fails once more than `left` bytes went through; before it
/// fails, it drains the rest of the caller's body as [`drain`] does, and sets
/// `exceeded` so that the failed upstream request is answered with a 413.
pub(super) struct Limited<S> {
    inner: S,
    left: usize,
    exceeded: Arc<AtomicBool>,
    /// Set once over the limit: until when, and how much more, is drained.
    draining: Option<(Pin<Box<Sleep>>, usize)>,
}

impl<S> Limited<S> {
    pub(super) fn new(inner: S, limit: usize, exceeded: Arc<AtomicBool>) -> Self {
        Self { inner, left: limit, exceeded, draining: None }
    }
}

type Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

impl<S> Stream for Limited<S>
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Unpin,
{
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let this = &mut *self;
        loop {
            if let Some((deadline, _)) = &mut this.draining
                && deadline.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Some(Err(Box::new(TooLarge))));
            }
            let next = match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(next) => next,
                Poll::Pending => return Poll::Pending,
            };
            match (&mut this.draining, next) {
                (Some((_, left)), Some(Ok(chunk))) => {
                    *left = left.saturating_sub(chunk.len());
                    if *left == 0 {
                        return Poll::Ready(Some(Err(Box::new(TooLarge))));
                    }
                }
                (Some(_), _) => return Poll::Ready(Some(Err(Box::new(TooLarge)))),
                (None, Some(Ok(chunk))) if chunk.len() > this.left => {
                    this.exceeded.store(true, Ordering::Relaxed);
                    this.draining = Some((Box::pin(tokio::time::sleep(DRAIN_TIME)), DRAIN_BYTES));
                }
                (None, Some(Ok(chunk))) => {
                    this.left -= chunk.len();
                    return Poll::Ready(Some(Ok(chunk)));
                }
                (None, Some(Err(e))) => return Poll::Ready(Some(Err(Box::new(e)))),
                (None, None) => return Poll::Ready(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_over_the_limit_is_drained_before_it_fails() {
        let read = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = read.clone();
        let chunks = futures::stream::iter(0..4).map(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok::<_, axum::Error>(Bytes::from(vec![b'x'; 512]))
        });
        let exceeded = Arc::new(AtomicBool::new(false));
        let mut limited = Limited::new(chunks, 1024, exceeded.clone());
        assert_eq!(limited.next().await.unwrap().unwrap().len(), 512);
        assert_eq!(limited.next().await.unwrap().unwrap().len(), 512);
        assert!(!exceeded.load(Ordering::SeqCst));
        let refused = limited.next().await.unwrap();
        assert!(refused.is_err());
        assert!(exceeded.load(Ordering::SeqCst));
        assert_eq!(read.load(Ordering::SeqCst), 4, "the rest of the body was read before the failure");
    }

    #[tokio::test]
    async fn a_body_within_the_limit_passes_whole() {
        let chunks = futures::stream::iter(0..2).map(|_| Ok::<_, axum::Error>(Bytes::from(vec![b'x'; 512])));
        let exceeded = Arc::new(AtomicBool::new(false));
        let passed: Vec<_> = Limited::new(chunks, 1024, exceeded.clone()).collect().await;
        assert_eq!(passed.len(), 2);
        assert!(passed.iter().all(Result::is_ok));
        assert!(!exceeded.load(Ordering::SeqCst));
    }
}
