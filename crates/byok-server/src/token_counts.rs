//! The tokens the proxy counted per credential, as the credential and usage views
//! show them: `tokens_total`, and `tokens_period` for the current period only.

use std::collections::HashMap;

use byok_core::{Credential, CredentialId};

use crate::sealing::current_period;
use crate::{ApiError, AppState};

/// Token counts of a credential: (total, current period).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tokens {
    pub total: i64,
    pub period: i64,
}

/// Token counts of `credentials`, by id (zero for those without any).
pub(crate) async fn token_counts(
    state: &AppState,
    credentials: &[Credential],
) -> Result<HashMap<CredentialId, Tokens>, ApiError> {
    let ids: Vec<CredentialId> = credentials.iter().map(|c| c.id).collect();
    let period = current_period(state);
    Ok(state
        .store
        .credential_tokens(&ids)
        .await?
        .into_iter()
        .map(|t| {
            let in_period = if t.period_start >= period { t.tokens_period } else { 0 };
            (t.credential_id, Tokens { total: t.tokens_total, period: in_period })
        })
        .collect())
}
