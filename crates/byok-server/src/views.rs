//! What the API answers. None of these types can hold a secret value.

use std::collections::BTreeMap;

use byok_core::{Credential, FieldSpec, ProviderSpec, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use crate::token_counts::Tokens;

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    pub total: i64,
    pub period: i64,
    pub period_start: String,
    pub monthly_limit: Option<i64>,
    /// Tokens providers reported for proxied requests, in all and this period.
    pub tokens_total: i64,
    pub tokens_period: i64,
    /// Tokens allowed per usage period (`null`: no budget).
    pub monthly_token_limit: Option<i64>,
    /// Requests allowed per calendar minute (`null`: no limit).
    pub rate_limit_per_minute: Option<i64>,
}

/// A credential as answered: public configuration and hints, never a secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    pub id: String,
    #[schema(example = "user:alice")]
    pub owner: String,
    #[schema(example = "openai")]
    pub provider: String,
    pub label: String,
    pub config: BTreeMap<String, String>,
    #[schema(example = json!({"api_key": "sk-…a1b2"}))]
    pub secret_hints: BTreeMap<String, String>,
    #[schema(example = "unverified")]
    pub status: String,
    pub status_message: Option<String>,
    pub last_tested_at: Option<String>,
    pub last_used_at: Option<String>,
    pub enabled: bool,
    pub priority: i64,
    pub usage: UsageView,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn ts(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_rfc3339)
}

impl CredentialView {
    /// The view of `c` when the current usage period starts at `period`: counters
    /// still in an earlier period read as zero for this one.
    pub fn new(c: &Credential, period: Timestamp) -> Self {
        let (usage_period, period_start) =
            if c.period_start < period { (0, period) } else { (c.usage_period, c.period_start) };
        Self {
            id: c.id.to_string(),
            owner: c.owner.to_string(),
            provider: c.provider.to_string(),
            label: c.label.as_str().to_owned(),
            config: c.config.clone(),
            secret_hints: c.secret_hints.clone(),
            status: c.effective_status().to_string(),
            status_message: c.status_message.clone(),
            last_tested_at: ts(c.last_tested_at),
            last_used_at: ts(c.last_used_at),
            enabled: c.enabled,
            priority: c.priority,
            usage: UsageView {
                total: c.usage_total,
                period: usage_period,
                period_start: period_start.to_rfc3339(),
                monthly_limit: c.monthly_limit,
                tokens_total: 0,
                tokens_period: 0,
                monthly_token_limit: c.monthly_token_limit,
                rate_limit_per_minute: c.rate_limit_per_minute,
            },
            version: c.version,
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
        }
    }
}

impl CredentialView {
    /// The view with the proxy's token counts.
    pub(crate) fn with_tokens(mut self, tokens: Option<&Tokens>) -> Self {
        let tokens = tokens.copied().unwrap_or_default();
        self.usage.tokens_total = tokens.total;
        self.usage.tokens_period = tokens.period;
        self
    }
}

/// A page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Cursor for the next page, or null on the last one.
    pub next: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldView {
    pub name: String,
    pub label: String,
    pub secret: bool,
    pub required: bool,
    pub pattern: Option<String>,
    pub example: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    pub id: String,
    pub name: String,
    #[schema(example = "llm")]
    pub category: String,
    pub fields: Vec<FieldView>,
}

impl From<&FieldSpec> for FieldView {
    fn from(f: &FieldSpec) -> Self {
        Self {
            name: f.name.clone(),
            label: f.label.clone(),
            secret: f.secret,
            required: f.required,
            pattern: f.pattern.clone(),
            example: f.example.clone(),
        }
    }
}

impl From<&ProviderSpec> for ProviderView {
    fn from(p: &ProviderSpec) -> Self {
        let category =
            serde_json::to_value(p.category).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        Self {
            id: p.id.to_string(),
            name: p.name.clone(),
            category,
            fields: p.fields.iter().map(FieldView::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    pub id: String,
    /// The token itself: shown only in this answer.
    #[schema(example = "byok_usr_…")]
    pub token: String,
    pub role: String,
    pub owner: Option<String>,
    pub manage_orgs: Vec<String>,
    pub name: Option<String>,
    pub expires_at: Option<String>,
    /// For virtual keys: the providers it may reach (`["*"]`: all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<String>>,
    /// For virtual keys: requests allowed per usage period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_limit: Option<i64>,
    /// For virtual keys: tokens allowed per usage period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_token_limit: Option<i64>,
    /// For virtual keys: requests allowed per calendar minute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_minute: Option<i64>,
    /// For virtual keys limited to certain models: the names and `*` prefixes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// For user tokens minted with `sign_in_link`: the settings page's one-time sign-in
    /// path (append it to byok's public origin); usable from another site once, for 60 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/ui/login?token=byok_usr_…")]
    pub sign_in_url: Option<String>,
}
