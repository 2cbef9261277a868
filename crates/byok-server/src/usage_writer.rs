//! Counts of resolves and finished proxied requests (requests of credentials and
//! virtual keys that have no limit, where the use's spooled audit entry does not carry
//! them; tokens per credential and per virtual key), gathered in memory and written in
//! one transaction per batch by a background task, so counting never delays an answer.
//! Units of a limit are not counted here: they are taken, exactly, before a secret is
//! handed out or a request is forwarded. Each use counted here is also in the audit
//! log, durable before the secret left; a crash loses what this writer had not written
//! yet (up to [`GATHER`] of counts).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use byok_core::{Clock, CredentialId, PeriodAnchor, TokenId};
use byok_store::{ProxyUsage, Store, VirtualKeyDelta};
use tokio::sync::{mpsc, oneshot};

/// Most events folded into one write.
const MAX_BATCH: usize = 10_000;
/// How long the writer gathers events after the first of a batch: fewer, larger
/// transactions, each a commit (and on SQLite an fsync) of its own.
const GATHER: Duration = Duration::from_millis(100);

/// What one resolve or finished request adds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UsageEvent {
    pub credential: Option<CredentialId>,
    /// Whether the credential's request is still to be counted (no limit).
    pub count_credential: bool,
    pub virtual_key: Option<TokenId>,
    /// Whether the virtual key's request is still to be counted (keys without a limit).
    pub count_request: bool,
    pub tokens: u64,
}

impl UsageEvent {
    /// A resolve of a credential without a monthly limit.
    pub(crate) fn resolve(credential: CredentialId) -> Self {
        Self {
            credential: Some(credential),
            count_credential: true,
            virtual_key: None,
            count_request: false,
            tokens: 0,
        }
    }
}

enum Message {
    Event(UsageEvent),
    /// Write this event without gathering more first, then say so.
    Durable(UsageEvent, oneshot::Sender<()>),
    /// Write what is gathered now, then say so.
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub(crate) struct UsageWriter {
    events: mpsc::UnboundedSender<Message>,
}

impl UsageWriter {
    /// Starts the writer; it stops once every sender is gone and the rest is written.
    pub(crate) fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>, anchor: PeriodAnchor) -> Self {
        let (events, mut queue) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut flushes = Vec::new();
                let mut batch = Vec::new();
                match first {
                    Message::Event(event) => {
                        batch.push(event);
                        tokio::time::sleep(GATHER).await;
                    }
                    Message::Durable(event, done) => {
                        batch.push(event);
                        flushes.push(done);
                    }
                    Message::Flush(done) => flushes.push(done),
                }
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(Message::Event(event)) => batch.push(event),
                        Ok(Message::Durable(event, done)) => {
                            batch.push(event);
                            flushes.push(done);
                        }
                        Ok(Message::Flush(done)) => flushes.push(done),
                        Err(_) => break,
                    }
                }
                if !batch.is_empty() {
                    let usage = fold(&batch);
                    let now = clock.now();
                    if let Err(e) = store.record_proxy_usage(&usage, anchor.period_start(now), now).await {
                        tracing::error!(error = %e, requests = batch.len(), "proxy usage could not be recorded");
                    }
                }
                for done in flushes {
                    let _ = done.send(());
                }
            }
        });
        Self { events }
    }

    pub(crate) fn record(&self, event: UsageEvent) {
        let counts = event.tokens > 0
            || (event.count_request && event.virtual_key.is_some())
            || (event.count_credential && event.credential.is_some());
        if counts && self.events.send(Message::Event(event)).is_err() {
            tracing::warn!("proxy usage writer has stopped; a request's usage was not recorded");
        }
    }

    /// Records `event` at once, without the gathering pause: the receiver hears when it
    /// is written (or the writer has stopped).
    pub(crate) fn record_durably(&self, event: UsageEvent) -> oneshot::Receiver<()> {
        let (done, written) = oneshot::channel();
        if self.events.send(Message::Durable(event, done)).is_err() {
            tracing::warn!("proxy usage writer has stopped; a request's usage was not recorded");
        }
        written
    }

    /// Waits until every event recorded so far is written (at shutdown).
    pub(crate) async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.events.send(Message::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }
}

/// Sums a batch per credential and per virtual key.
pub(crate) fn fold(batch: &[UsageEvent]) -> ProxyUsage {
    let mut requests: HashMap<CredentialId, i64> = HashMap::new();
    let mut credentials: HashMap<CredentialId, i64> = HashMap::new();
    let mut keys: HashMap<TokenId, (i64, i64)> = HashMap::new();
    for e in batch {
        let tokens = i64::try_from(e.tokens).unwrap_or(i64::MAX);
        if let Some(id) = e.credential {
            if e.count_credential {
                *requests.entry(id).or_default() += 1;
            }
            if tokens > 0 {
                *credentials.entry(id).or_default() += tokens;
            }
        }
        if let Some(id) = e.virtual_key {
            let entry = keys.entry(id).or_default();
            entry.0 += i64::from(e.count_request);
            entry.1 += tokens;
        }
    }
    ProxyUsage {
        credential_requests: requests.into_iter().collect(),
        credential_tokens: credentials.into_iter().collect(),
        virtual_keys: keys
            .into_iter()
            .map(|(token_id, (requests, tokens))| VirtualKeyDelta { token_id, requests, tokens })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_events_per_credential_and_key() {
        let (c, k) = (CredentialId::new(), TokenId::new());
        let e = |count, tokens| UsageEvent {
            credential: Some(c),
            count_credential: count,
            virtual_key: Some(k),
            count_request: count,
            tokens,
        };
        let unkeyed = UsageEvent {
            credential: Some(c),
            count_credential: false,
            virtual_key: None,
            count_request: false,
            tokens: 1,
        };
        let usage = fold(&[e(true, 10), e(false, 5), unkeyed]);
        assert_eq!(usage.credential_requests, vec![(c, 1)]);
        assert_eq!(usage.credential_tokens, vec![(c, 16)]);
        assert_eq!(usage.virtual_keys, vec![VirtualKeyDelta { token_id: k, requests: 1, tokens: 15 }]);
    }
}
