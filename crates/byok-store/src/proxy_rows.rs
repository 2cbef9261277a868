//! Rows of the proxy's tables and their conversion to domain values.

use byok_core::{ProviderId, Timestamp, VirtualKey, VirtualKeyUsage};

use crate::{CredentialTokens, StoreError};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// A `virtual_keys` row's settings.
pub(crate) type VirtualKeyRow = (String, String, Option<i64>, Option<String>, Option<i64>, Option<i64>);

/// `(token_id, providers JSON, monthly_limit, models JSON, monthly_token_limit,
/// rate_limit_per_minute)` as stored.
pub(crate) fn virtual_key(
    (id, providers, monthly_limit, models, monthly_token_limit, rate_limit_per_minute): VirtualKeyRow,
) -> Result<VirtualKey, StoreError> {
    let names: Vec<String> = serde_json::from_str(&providers).map_err(|e| corrupt("virtual key providers", e))?;
    let models: Vec<String> = match models {
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("virtual key models", e))?,
        None => Vec::new(),
    };
    Ok(VirtualKey {
        token_id: id.parse().map_err(|e| corrupt("virtual key id", e))?,
        providers: names
            .iter()
            .map(|p| ProviderId::parse(p))
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt("virtual key providers", e))?,
        monthly_limit,
        monthly_token_limit,
        rate_limit_per_minute,
        models: models
            .iter()
            .map(|m| byok_core::ModelPattern::parse(m))
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt("virtual key models", e))?,
    })
}

pub(crate) fn credential_tokens(
    (id, total, period, start): (String, i64, i64, i64),
) -> Result<CredentialTokens, StoreError> {
    Ok(CredentialTokens {
        credential_id: id.parse().map_err(|e| corrupt("credential tokens id", e))?,
        tokens_total: total,
        tokens_period: period,
        period_start: Timestamp::from_millis(start),
    })
}

pub(crate) struct UsageRow {
    pub(crate) usage_total: i64,
    pub(crate) usage_period: i64,
    pub(crate) period_start: i64,
    pub(crate) tokens_total: i64,
    pub(crate) tokens_period: i64,
    pub(crate) last_used_at: Option<i64>,
}

impl UsageRow {
    /// The counters as of the period starting at `period`: a row still in an older
    /// period has used nothing of this one yet.
    pub(crate) fn usage(self, period: Timestamp) -> VirtualKeyUsage {
        let current = self.period_start >= period.millis();
        VirtualKeyUsage {
            total: self.usage_total,
            period: if current { self.usage_period } else { 0 },
            period_start: if current { Timestamp::from_millis(self.period_start) } else { period },
            tokens_total: self.tokens_total,
            tokens_period: if current { self.tokens_period } else { 0 },
            last_used_at: self.last_used_at.map(Timestamp::from_millis),
        }
    }
}
