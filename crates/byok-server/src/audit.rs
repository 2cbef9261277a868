//! The audit log's writer: one chain per instance, appended by one task in batches
//! (many entries, one statement, one commit). `record` returns only once its entry is
//! durable; a caller about to hand out a secret does so only after that. `submit`
//! returns once the entry is in the instance's audit spool (`audit_spool.rs`), which
//! commits it shortly and survives the process; without a spool it waits like `record`.

use std::sync::Arc;

use byok_core::{AuditAction, AuditEvent, AuditRecord, Clock, Principal, WebhookEvent};
use byok_crypto::{AUDIT_KEY_PURPOSE, AuditKey, CryptoError, Keyring};
use byok_store::{Chainer, Change, Store, StoreError};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::ApiError;
use crate::audit_spool::{Spool, SpoolDir, SpoolError, UseCounts};

const MAX_BATCH: usize = 512;

/// What a job asks of the writer.
enum Work {
    /// An entry on its own, with the requests it counts if any.
    Entry(AuditEvent, Option<UseCounts>),
    /// A change with its entries and webhook events, committed in one transaction.
    Change(Change, Vec<AuditEvent>, Vec<WebhookEvent>),
    /// Nothing: wait for everything queued before it.
    Flush,
}

struct Job {
    work: Work,
    /// Told when the job is durable (true: the change applied).
    reply: oneshot::Sender<Result<bool, ApiError>>,
}

#[derive(Clone)]
pub struct Auditor {
    jobs: mpsc::Sender<Job>,
    /// Entries nobody waits for (`submit`), with the chainer of the spool's chain.
    spool: Option<(Arc<Spool>, Arc<KeyChainer>)>,
    /// Told whenever a committed change put webhook events into the outbox.
    pub(crate) announced: Arc<Notify>,
}

/// Why the audit log could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuditSetupError {
    #[error("audit store: {0}")]
    Store(#[from] StoreError),
    #[error("the audit key does not open with this keyring: {0}")]
    Key(#[from] CryptoError),
    #[error("the audit chain could not start: {0}")]
    Start(String),
    #[error("{0}")]
    Spool(#[from] SpoolError),
}

/// The audit MAC key: created (sealed) by the first instance, opened by every one.
pub async fn load_audit_key(store: &dyn Store, keyring: &Keyring) -> Result<AuditKey, AuditSetupError> {
    if store.audit_key().await?.is_none() {
        let (key_id, sealed) = keyring.seal_blob(AUDIT_KEY_PURPOSE, &AuditKey::generate_bytes());
        store.insert_audit_key(&key_id, &sealed).await?;
    }
    let (_, sealed) = store.audit_key().await?.ok_or_else(|| AuditSetupError::Start("audit key missing".into()))?;
    Ok(AuditKey::from_bytes(&keyring.open_blob(AUDIT_KEY_PURPOSE, &sealed)?))
}

impl Auditor {
    /// Starts a new chain for this instance and its writer task; `submit` then waits
    /// like `record` (for commands that hand out no secret through the proxy).
    pub async fn start(store: Arc<dyn Store>, key: AuditKey, clock: Arc<dyn Clock>) -> Result<Self, AuditSetupError> {
        Self::start_in(store, key, clock, None).await
    }

    /// [`Auditor::start`] with a spool in `dir` for submitted entries, after committing
    /// what an earlier process left in it.
    pub async fn start_spooled(
        store: Arc<dyn Store>,
        key: AuditKey,
        clock: Arc<dyn Clock>,
        dir: SpoolDir,
    ) -> Result<Self, AuditSetupError> {
        let recovered = dir.recover(store.as_ref()).await?;
        if recovered > 0 {
            tracing::warn!(entries = recovered, spool = %dir.path().display(), "audit entries an earlier process left in its spool were committed");
        }
        Self::start_in(store, key, clock, Some(dir)).await
    }

    async fn start_in(
        store: Arc<dyn Store>,
        key: AuditKey,
        clock: Arc<dyn Clock>,
        spool_dir: Option<SpoolDir>,
    ) -> Result<Self, AuditSetupError> {
        let key = Arc::new(key);
        // The store's write worker chains the resolve entries it writes with their units.
        store.attach_chainer(Arc::new(KeyChainer {
            key: key.clone(),
            clock: clock.clone(),
            writer: "metering writer",
        }));
        let spool = match spool_dir {
            Some(dir) => {
                let chainer = Arc::new(KeyChainer { key: key.clone(), clock: clock.clone(), writer: "spool writer" });
                let genesis = chainer.genesis();
                store.start_audit_chain(&genesis).await?;
                Some((Spool::start(dir, genesis, store.clone())?, chainer))
            }
            None => None,
        };
        let chainer = KeyChainer { key, clock, writer: "instance writer" };
        let genesis = chainer.genesis();
        store.start_audit_chain(&genesis).await?;
        let (jobs, waited) = mpsc::channel(MAX_BATCH * 8);
        let announced = Arc::new(Notify::new());
        tokio::spawn(write_loop(waited, store, chainer, genesis, announced.clone()));
        Ok(Self { jobs, spool, announced })
    }

    /// Appends `event` and waits until it is durable.
    pub async fn record(&self, event: AuditEvent) -> Result<(), ApiError> {
        self.wait_for(Work::Entry(event, None)).await.map(|_| ())
    }

    /// Applies `change` and appends its `events` in one transaction, and waits until
    /// it is durable: if either cannot be written, neither is. False when the change
    /// did not apply (a newer revision, a row already gone); then no entry is written.
    pub async fn commit(&self, change: Change, events: Vec<AuditEvent>) -> Result<bool, ApiError> {
        self.wait_for(Work::Change(change, events, Vec::new())).await
    }

    /// [`Auditor::commit`], putting `announced` into the webhook outbox in the same
    /// transaction.
    pub async fn commit_announced(
        &self,
        change: Change,
        events: Vec<AuditEvent>,
        announced: Vec<WebhookEvent>,
    ) -> Result<bool, ApiError> {
        self.wait_for(Work::Change(change, events, announced)).await
    }

    async fn wait_for(&self, work: Work) -> Result<bool, ApiError> {
        let (reply, done) = oneshot::channel();
        self.jobs
            .send(Job { work, reply })
            .await
            .map_err(|_| ApiError::internal("audit", "the audit writer stopped"))?;
        done.await.map_err(|_| ApiError::internal("audit", "the audit writer dropped an entry"))?
    }

    /// Spools `event`, with the requests it `counts`, for the next batch without waiting
    /// for it to be committed. For a secret's use that does not hand the secret to the
    /// caller (the proxy sends it to its provider only), where one commit per use would
    /// be most of the request's cost.
    pub(crate) async fn submit(&self, event: AuditEvent, counts: Option<UseCounts>) -> Result<(), ApiError> {
        let Some((spool, chainer)) = &self.spool else {
            return self.wait_for(Work::Entry(event, counts)).await.map(|_| ());
        };
        spool
            .append(event, counts, |last, event| chainer.extend_one(last, event))
            .map_err(|e| ApiError::internal("audit spool", e.to_string()))
    }

    /// Waits until every entry queued or spooled so far is written (at shutdown).
    pub async fn flush(&self) {
        if let Some((spool, _)) = &self.spool {
            spool.flush().await;
        }
        let _ = self.wait_for(Work::Flush).await;
    }
}

async fn write_loop(
    mut waited: mpsc::Receiver<Job>,
    store: Arc<dyn Store>,
    chainer: KeyChainer,
    genesis: AuditRecord,
    announced: Arc<Notify>,
) {
    let mut last = genesis;
    while let Some(first) = waited.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waited.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Entries keep their order: those queued before a change are written first.
        let mut entries = Vec::new();
        for job in batch {
            match job.work {
                Work::Change(change, events, webhook_events) => {
                    append(store.as_ref(), &chainer, &mut last, std::mem::take(&mut entries)).await;
                    let records = chainer.extend(&last, events);
                    let committed = store.commit_change(&change, &records, &webhook_events).await;
                    match &committed {
                        Ok(true) => {
                            last = records.last().unwrap_or(&last).clone();
                            if !webhook_events.is_empty() {
                                announced.notify_one();
                            }
                        }
                        Ok(false) => {}
                        Err(e) => tracing::error!(error = %e, "a change and its audit entries could not be written"),
                    }
                    let _ = job.reply.send(committed.map_err(ApiError::from));
                }
                Work::Entry(..) | Work::Flush => entries.push(job),
            }
        }
        append(store.as_ref(), &chainer, &mut last, entries).await;
    }
}

/// Writes the entries of `jobs`, and what they count, in one transaction after `last`,
/// and tells their waiters.
async fn append(store: &dyn Store, chainer: &KeyChainer, last: &mut AuditRecord, jobs: Vec<Job>) {
    let (mut events, mut counts) = (Vec::new(), Vec::new());
    for job in &jobs {
        if let Work::Entry(event, counted) = &job.work {
            events.push(event.clone());
            counts.extend(*counted);
        }
    }
    let records = chainer.extend(last, events);
    let written = if records.is_empty() { Ok(()) } else { crate::audit_spool::commit(store, &records, &counts).await };
    if let Err(e) = &written {
        tracing::error!(error = %e, entries = records.len(), "audit entries could not be written");
    } else if let Some(newest) = records.last() {
        *last = newest.clone();
    }
    for job in jobs {
        let _ = job.reply.send(match &written {
            Ok(()) => Ok(true),
            Err(e) => Err(ApiError::internal("audit", e.to_string())),
        });
    }
}

/// Chains entries with the audit key: a new chain per call of `genesis`. Used by the
/// instance's writer and its spool here, and by the store's metering workers.
pub(crate) struct KeyChainer {
    key: Arc<AuditKey>,
    clock: Arc<dyn Clock>,
    /// Which writer the chain belongs to, noted in its first entry.
    writer: &'static str,
}

impl Chainer for KeyChainer {
    fn genesis(&self) -> AuditRecord {
        let event = AuditEvent {
            actor_role: "system".into(),
            action: AuditAction::ChainStart.as_str().into(),
            outcome: "ok".into(),
            detail: Some(self.writer.into()),
            ..AuditEvent::default()
        };
        let chain = uuid::Uuid::now_v7().to_string();
        let mut genesis = AuditRecord { chain, seq: 1, at: self.clock.now(), event, mac: Vec::new() };
        genesis.mac = self.key.mac(&[], &genesis.canonical_bytes());
        genesis
    }

    fn extend(&self, previous: &AuditRecord, events: Vec<AuditEvent>) -> Vec<AuditRecord> {
        let mut records: Vec<AuditRecord> = Vec::with_capacity(events.len());
        for event in events {
            let record = self.extend_one(records.last().unwrap_or(previous), event);
            records.push(record);
        }
        records
    }
}

impl KeyChainer {
    /// The record of `event` right after `previous`.
    pub(crate) fn extend_one(&self, previous: &AuditRecord, event: AuditEvent) -> AuditRecord {
        let (chain, seq) = (previous.chain.clone(), previous.seq + 1);
        let mut record = AuditRecord { chain, seq, at: self.clock.now(), event, mac: Vec::new() };
        record.mac = self.key.mac(&previous.mac, &record.canonical_bytes());
        record
    }
}

/// Where a request came from, for its audit entries.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(request_info(parts))
    }
}

pub fn request_info(parts: &axum::http::request::Parts) -> RequestInfo {
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|s| byok_core::redact_tokens(s).chars().take(100).collect());
    let client_addr =
        parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string());
    RequestInfo { request_id, client_addr }
}

/// An event by `principal` during the request `info`.
pub fn event(principal: &Principal, info: &RequestInfo, action: AuditAction, outcome: &str) -> AuditEvent {
    AuditEvent {
        actor_token: Some(principal.token_id.map_or_else(|| "bootstrap-admin".to_owned(), |id| id.to_string())),
        actor_role: principal.role.to_string(),
        action: action.as_str().to_owned(),
        outcome: outcome.to_owned(),
        request_id: info.request_id.clone(),
        client_addr: info.client_addr.clone(),
        ..AuditEvent::default()
    }
}

/// An event about a credential.
pub fn credential_event(
    principal: &Principal,
    info: &RequestInfo,
    action: AuditAction,
    outcome: &str,
    c: &byok_core::Credential,
) -> AuditEvent {
    about_credential(event(principal, info, action, outcome), c)
}

/// `event` completed with the credential it is about.
pub(crate) fn about_credential(event: AuditEvent, c: &byok_core::Credential) -> AuditEvent {
    AuditEvent {
        owner: Some(c.owner.to_string()),
        credential_id: Some(c.id.to_string()),
        provider: Some(c.provider.to_string()),
        ..event
    }
}
