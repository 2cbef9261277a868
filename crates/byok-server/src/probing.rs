//! Connection tests as the API runs them: per-owner rate limiting, recording the
//! outcome on the credential, and the background re-verification of connected ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use byok_core::{AuditAction, AuditEvent, Credential, CredentialId, Owner, ProviderSpec, SecretFields, Status};
use byok_providers::{ProbeOutcome, ProbeOutcomeKind};
use futures::StreamExt;

use crate::sealing::binding;
use crate::{ApiError, AppState};

/// Probes allowed per owner in each one-minute window (fixed windows: simple, and a
/// burst of at most twice the rate across a window boundary is acceptable here).
pub struct ProbeLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<Owner, (Instant, u32)>>,
}

impl ProbeLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, windows: Mutex::new(HashMap::new()) }
    }

    pub fn check(&self, owner: &Owner) -> Result<(), ApiError> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let (start, used) = windows.entry(owner.clone()).or_insert((now, 0));
        if now.duration_since(*start) >= Duration::from_secs(60) {
            *start = now;
            *used = 0;
        }
        if *used >= self.per_minute {
            let left = Duration::from_secs(60).saturating_sub(now.duration_since(*start));
            return Err(ApiError::RateLimited {
                detail: format!(
                    "at most {} connection tests per minute for {owner}; try again shortly",
                    self.per_minute
                ),
                retry_after_secs: left.as_secs().max(1),
            });
        }
        *used += 1;
        Ok(())
    }
}

/// The status a test outcome gives a credential; `None` keeps the current one (a
/// provider being unavailable says nothing about the key).
pub fn status_after(kind: ProbeOutcomeKind) -> Option<Status> {
    match kind {
        ProbeOutcomeKind::Connected => Some(Status::Connected),
        ProbeOutcomeKind::Restricted => Some(Status::Restricted),
        ProbeOutcomeKind::Invalid => Some(Status::Error),
        ProbeOutcomeKind::Unavailable => None,
    }
}

/// Probes the given fields of `provider` (nothing is stored).
pub async fn probe_fields(
    state: &AppState,
    provider: &ProviderSpec,
    config: &std::collections::BTreeMap<String, String>,
    secrets: &SecretFields,
) -> ProbeOutcome {
    let outcome = state.prober.probe(provider, config, secrets).await;
    tracing::info!(provider = %provider.id, outcome = outcome.kind.as_str(), latency_ms = outcome.latency_ms, "connection test");
    outcome
}

/// How old a test mark must be before the re-verification sweep takes it for the
/// trace of a test that never finished (the instance stopped mid-test) and tests the
/// credential again. Well above a probe's longest run (connect plus total timeout).
pub const VERIFYING_STALE_AFTER: Duration = Duration::from_secs(120);

/// Tests a stored credential and records the outcome on it. While the probe runs the
/// credential shows `verifying`; the mark is cleared however the test ends.
pub async fn test_stored(state: &AppState, c: &Credential) -> Result<ProbeOutcome, ApiError> {
    let started = state.clock.now();
    state.store.mark_verifying(&c.id, c.version, started).await?;
    let recorded = async {
        let spec = state.catalog.get(c.provider.as_str())?;
        let secrets = state.keyring.open(&binding(c), &c.sealed)?;
        let outcome = probe_fields(state, spec, &c.config, &secrets).await;
        if outcome.kind != ProbeOutcomeKind::Unavailable {
            let tested_at = state.clock.now();
            state
                .store
                .record_test(&c.id, c.version, status_after(outcome.kind), Some(&outcome.message), tested_at)
                .await?;
        }
        Ok::<_, ApiError>(outcome)
    }
    .await;
    if !matches!(&recorded, Ok(outcome) if outcome.kind != ProbeOutcomeKind::Unavailable) {
        state.store.end_verifying(&c.id, c.version, started).await?;
    }
    recorded
}

/// Marks a credential about to be stored with a new secret as under test, when
/// deployments test new secrets (`BYOK_TEST_NEW_CREDENTIALS`) and it was not tested
/// already: true when [`test_in_background`] must follow its commit. Otherwise no
/// mark (an older secret's never carries over).
pub fn mark_for_background_test(state: &AppState, c: &mut Credential, tested: bool) -> bool {
    let test = state.settings.test_new_credentials && !tested;
    c.verifying_since = test.then(|| state.clock.now());
    test
}

/// Tests a secret just stored, after the answer went out: `audit` is the entry to
/// write (its outcome filled in), like any connection test's. A newer secret stored
/// meanwhile keeps its own status (the result is recorded for this version only). A few
/// run at once (`reverify_concurrency`); a bulk of new secrets waits its turn rather
/// than calling the providers all at once.
pub fn test_in_background(state: &AppState, c: Credential, audit: AuditEvent) {
    let state = state.clone();
    tokio::spawn(async move {
        let Ok(_turn) = state.background_tests.clone().acquire_owned().await else { return };
        match test_stored(&state, &c).await {
            Ok(outcome) => {
                let event = AuditEvent {
                    outcome: outcome.kind.as_str().into(),
                    detail: Some(format!("tested after version {} was stored", c.version)),
                    ..audit
                };
                if let Err(e) = state.audit.record(event).await {
                    tracing::error!(error = %e, "a background connection test could not be audited");
                }
            }
            Err(e) => tracing::warn!(credential_id = %c.id, error = %e, "background connection test failed"),
        }
    });
}

/// Re-tests connected credentials every `interval`, a few at a time, spread out by a
/// random delay; a provider that is unavailable is retried with growing pauses and
/// never flips the status.
pub fn start_reverification(state: AppState, interval: Duration, concurrency: usize) {
    tokio::spawn(async move {
        let mut backoff: HashMap<CredentialId, (Instant, Duration)> = HashMap::new();
        let sweep = (interval / 10).clamp(Duration::from_millis(200), Duration::from_secs(300));
        loop {
            tokio::time::sleep(jitter(sweep)).await;
            let now = state.clock.now();
            let before = byok_core::Timestamp::from_millis(now.millis() - interval.as_millis() as i64);
            let stale = byok_core::Timestamp::from_millis(now.millis() - VERIFYING_STALE_AFTER.as_millis() as i64);
            let due = match state.store.due_for_retest(before, stale, 100).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "re-verification could not list credentials");
                    continue;
                }
            };
            let due: Vec<Credential> =
                due.into_iter().filter(|c| backoff.get(&c.id).is_none_or(|(at, _)| Instant::now() >= *at)).collect();
            let results: Vec<(CredentialId, Result<ProbeOutcome, ApiError>)> = futures::stream::iter(due)
                .map(|c| {
                    let state = state.clone();
                    async move {
                        let result = test_stored(&state, &c).await;
                        if let Ok(outcome) = &result {
                            let event = AuditEvent {
                                actor_role: "system".into(),
                                action: AuditAction::CredentialTest.as_str().into(),
                                owner: Some(c.owner.to_string()),
                                credential_id: Some(c.id.to_string()),
                                provider: Some(c.provider.to_string()),
                                outcome: outcome.kind.as_str().into(),
                                detail: Some("scheduled re-verification".into()),
                                ..AuditEvent::default()
                            };
                            if let Err(e) = state.audit.record(event).await {
                                tracing::error!(error = %e, "re-verification could not be audited");
                            }
                        }
                        (c.id, result)
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            for (id, result) in results {
                match result {
                    Ok(outcome) if outcome.kind == ProbeOutcomeKind::Unavailable => {
                        let pause = backoff.get(&id).map_or(sweep, |(_, p)| (*p * 2).min(interval));
                        backoff.insert(id, (Instant::now() + pause, pause));
                    }
                    Ok(_) => {
                        backoff.remove(&id);
                    }
                    Err(e) => tracing::warn!(credential_id = %id, error = %e, "re-verification failed"),
                }
            }
        }
    });
}

/// `base` plus up to a quarter more, so instances do not sweep in lockstep.
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    base + base.mul_f64(f64::from(nanos % 1000) / 4000.0)
}
