//! Virtual keys: tokens an owner's provider SDK carries instead of the real key.

use crate::{DomainError, ProviderId, Timestamp, TokenId};

/// What a virtual key may do beyond what its token says (role `virtual`, the owner):
/// the providers and models it reaches and its own monthly limits. Fixed at minting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualKey {
    pub token_id: TokenId,
    /// The providers this key may reach; empty means every provider.
    pub providers: Vec<ProviderId>,
    /// Requests allowed per usage period; `None` is unlimited.
    pub monthly_limit: Option<i64>,
    /// Tokens (as the providers report them) allowed per usage period; `None` is unlimited.
    pub monthly_token_limit: Option<i64>,
    /// Requests allowed per calendar minute, across instances; `None` is unlimited.
    pub rate_limit_per_minute: Option<i64>,
    /// The models it may ask for: exact names, or prefixes ending in `*`; empty allows
    /// every model.
    pub models: Vec<ModelPattern>,
}

impl VirtualKey {
    pub fn allows(&self, provider: &ProviderId) -> bool {
        self.providers.is_empty() || self.providers.contains(provider)
    }

    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m.matches(model))
    }
}

/// An exact model name (`gpt-4o-mini`) or a prefix ending in `*` (`claude-3-5-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPattern(String);

impl ModelPattern {
    /// At most 200 visible characters, no spaces; `*` only at the end.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let invalid = |reason: &str| DomainError::invalid("models", reason);
        if text.is_empty() || text.chars().count() > 200 {
            return Err(invalid("each must be 1 to 200 characters"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("a model name has no spaces or control characters"));
        }
        if text.trim_end_matches('*').contains('*') || text.ends_with("**") {
            return Err(invalid("`*` may only end a pattern"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, model: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => model.starts_with(prefix),
            None => model == self.0,
        }
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

    /// A key for every provider and model, without limits.
    fn unrestricted() -> VirtualKey {
        VirtualKey {
            token_id: TokenId::new(),
            providers: Vec::new(),
            monthly_limit: None,
            monthly_token_limit: None,
            rate_limit_per_minute: None,
            models: Vec::new(),
        }
    }

    #[test]
    fn an_empty_provider_list_allows_every_provider() {
        let openai = ProviderId::parse("openai").unwrap();
        let mut key = unrestricted();
        assert!(key.allows(&openai));
        key.providers = vec![ProviderId::parse("anthropic").unwrap()];
        assert!(!key.allows(&openai));
    }

    #[test]
    fn models_match_exactly_or_by_prefix() {
        let mut key = unrestricted();
        assert!(key.allows_model("anything"), "no list allows every model");
        key.models = vec![ModelPattern::parse("gpt-4o-mini").unwrap(), ModelPattern::parse("claude-3-5-*").unwrap()];
        assert!(key.allows_model("gpt-4o-mini") && key.allows_model("claude-3-5-sonnet-20241022"));
        assert!(
            !key.allows_model("gpt-4o") && !key.allows_model("gpt-4o-mini-2024") && !key.allows_model("claude-3-opus")
        );
        for bad in ["", "a b", "gp*t", "gpt**", &"x".repeat(201)] {
            assert!(ModelPattern::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ModelPattern::parse("*").unwrap().matches("any-model"));
    }
}
