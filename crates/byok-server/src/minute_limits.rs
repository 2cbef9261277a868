//! Per-minute request limits (`rate_limit_per_minute`) of virtual keys and credentials,
//! exact across instances without a row every request writes: each instance leases
//! units of the current calendar minute from the database (an eighth of what is left,
//! at least one, in one conditional upsert) and spends them in memory. Instances
//! together never lease more than the limit, so no minute admits more; a unit an
//! instance leased but did not spend before the minute ended is lost to that minute
//! (at most an eighth of what was left when it was leased).

use std::collections::HashMap;
use std::sync::Mutex;

use byok_core::{CredentialId, Timestamp, TokenId};
use byok_store::{Store, StoreError};

const MINUTE_MS: i64 = 60_000;

/// Whose per-minute limit a request spends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Limited {
    VirtualKey(TokenId),
    Credential(CredentialId),
}

impl Limited {
    /// Its name in the `minute_windows` table.
    fn subject(&self) -> String {
        match self {
            Limited::VirtualKey(id) => format!("vk:{id}"),
            Limited::Credential(id) => format!("credential:{id}"),
        }
    }
}

/// A request over its per-minute limit: the seconds until the minute ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverLimit {
    pub retry_after_secs: u64,
}

/// This instance's leases, per limited key.
#[derive(Default)]
pub(crate) struct MinuteLimits {
    leases: Mutex<HashMap<Limited, Lease>>,
}

/// Units of one minute leased by this instance and not spent yet; `spent_out` once the
/// database had none left for that minute.
#[derive(Clone, Copy)]
struct Lease {
    window: i64,
    left: i64,
    spent_out: bool,
}

/// Entries kept before those of past minutes are dropped.
const PRUNE_ABOVE: usize = 10_000;

impl MinuteLimits {
    /// Spends one unit of `who`'s `limit` in the minute of `now`, leasing more from
    /// `store` when this instance has none left.
    pub(crate) async fn admit(
        &self,
        store: &dyn Store,
        who: &Limited,
        limit: i64,
        now: Timestamp,
    ) -> Result<Result<(), OverLimit>, StoreError> {
        let window = now.millis().div_euclid(MINUTE_MS) * MINUTE_MS;
        let over = OverLimit { retry_after_secs: ((window + MINUTE_MS - now.millis()) as u64).div_ceil(1000).max(1) };
        if limit <= 0 {
            return Ok(Err(over));
        }
        if let Some(spent) = self.spend_leased(who, window) {
            return Ok(if spent { Ok(()) } else { Err(over) });
        }
        let granted = store.lease_minute_units(&who.subject(), window, limit).await?;
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        if leases.len() > PRUNE_ABOVE {
            leases.retain(|_, lease| lease.window >= window);
        }
        let lease = leases.entry(who.clone()).or_insert(Lease { window, left: 0, spent_out: false });
        if lease.window != window {
            *lease = Lease { window, left: 0, spent_out: false };
        }
        if granted == 0 {
            lease.spent_out = true;
            return Ok(Err(over));
        }
        // Leases taken at once by several requests of this instance add up.
        lease.left += granted - 1;
        Ok(Ok(()))
    }

    /// `Some(true)` when a leased unit was spent, `Some(false)` when the minute has none
    /// left anywhere, `None` when more must be leased.
    fn spend_leased(&self, who: &Limited, window: i64) -> Option<bool> {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        let lease = leases.get_mut(who).filter(|lease| lease.window == window)?;
        if lease.left > 0 {
            lease.left -= 1;
            return Some(true);
        }
        lease.spent_out.then_some(false)
    }
}
