//! Idle keep-alive connections to providers, per origin, newest first out. A
//! connection idle for longer than [`IDLE_TIMEOUT`], or closed by the provider
//! meanwhile, is dropped instead of used.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;

use super::connect::Stream;
use super::outbound_body::OutboundBody;

/// Idle connections kept per origin.
const MAX_IDLE_PER_ORIGIN: usize = 1024;
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often idle connections are looked over, so none stays open long after it timed
/// out or the provider closed it, even when no more requests come.
pub(super) const SWEEP_EVERY: Duration = Duration::from_secs(15);

/// One HTTP/1.1 connection: the handle requests are sent on, and the connection
/// itself, which only makes progress while its user polls it.
pub(super) struct Conn {
    pub(super) sender: SendRequest<OutboundBody>,
    driver: Connection<TokioIo<Stream>, OutboundBody>,
    closed: bool,
}

impl Conn {
    pub(super) fn new(sender: SendRequest<OutboundBody>, driver: Connection<TokioIo<Stream>, OutboundBody>) -> Self {
        Self { sender, driver, closed: false }
    }

    /// Lets the connection read and write what it can; ready once it has closed.
    pub(super) fn drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.closed && self.driver.poll_without_shutdown(cx).is_ready() {
            self.closed = true;
        }
        if self.closed { Poll::Ready(()) } else { Poll::Pending }
    }

    /// Whether the connection is open and waiting for its next request.
    fn reusable(&mut self) -> bool {
        self.drive(&mut Context::from_waker(Waker::noop())).is_pending() && self.sender.is_ready()
    }
}

struct Idle {
    conn: Conn,
    since: Instant,
}

#[derive(Default)]
pub(super) struct Pool {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
}

impl Pool {
    /// An idle connection to `origin` that can take a request now.
    pub(super) fn take(&self, origin: &str) -> Option<Conn> {
        loop {
            let entry = self.idle.lock().unwrap_or_else(PoisonError::into_inner).get_mut(origin)?.pop()?;
            let mut conn = entry.conn;
            if entry.since.elapsed() < IDLE_TIMEOUT && conn.reusable() {
                return Some(conn);
            }
        }
    }

    /// Keeps `conn`, whose last answer was read to its end, for the next request.
    pub(super) fn put(&self, origin: &str, mut conn: Conn) {
        if conn.drive(&mut Context::from_waker(Waker::noop())).is_ready() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.entry(origin.to_owned()).or_default();
        let stale = list.iter().take_while(|e| e.since.elapsed() >= IDLE_TIMEOUT).count();
        list.drain(..stale);
        if list.len() < MAX_IDLE_PER_ORIGIN {
            list.push(Idle { conn, since: Instant::now() });
        }
    }

    /// Drops the idle connections that timed out or that the provider closed.
    pub(super) fn sweep(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        for list in idle.values_mut() {
            list.retain_mut(|e| e.since.elapsed() < IDLE_TIMEOUT && e.conn.reusable());
        }
        idle.retain(|_, list| !list.is_empty());
    }

    /// How many idle connections are kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).values().map(Vec::len).sum()
    }
}
