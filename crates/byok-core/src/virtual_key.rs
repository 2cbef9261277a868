//! Virtual keys: tokens an owner's provider SDK carries instead of the real key.

use crate::{ProviderId, Timestamp, TokenId};

/// What a virtual key may do beyond what its token says (role `virtual`, the owner):
/// the providers it reaches and its own monthly request limit. Fixed at minting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualKey {
    pub token_id: TokenId,
    /// The providers this key may reach; empty means every provider.
    pub providers: Vec<ProviderId>,
    /// Requests allowed per usage period; `None` is unlimited.
    pub monthly_limit: Option<i64>,
}

impl VirtualKey {
    pub fn allows(&self, provider: &ProviderId) -> bool {
        self.providers.is_empty() || self.providers.contains(provider)
    }
}

/// A virtual key's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualKeyUsage {
    pub total: i64,
    /// Requests in the period starting at `period_start`.
    pub period: i64,
    pub period_start: Timestamp,
    pub tokens_total: i64,
    pub tokens_period: i64,
    pub last_used_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_provider_list_allows_every_provider() {
        let openai = ProviderId::parse("openai").unwrap();
        let mut key = VirtualKey { token_id: TokenId::new(), providers: Vec::new(), monthly_limit: None };
        assert!(key.allows(&openai));
        key.providers = vec![ProviderId::parse("anthropic").unwrap()];
        assert!(!key.allows(&openai));
    }
}
