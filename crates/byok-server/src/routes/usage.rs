//! `GET /v1/usage`: requests per credential and period.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::extract::ApiQuery;
use crate::routes::credentials::{listing_filter, next_cursor};
use crate::sealing::current_period;
use crate::token_counts::token_counts;
use crate::views::Page;
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    pub owner: Option<String>,
    pub provider: Option<String>,
    /// Credentials per page, 1 to 500 (default 100).
    pub limit: Option<u32>,
    /// The `next` value of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodUsage {
    pub period_start: String,
    pub requests: i64,
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialUsage {
    pub credential_id: String,
    pub owner: String,
    pub provider: String,
    pub label: String,
    pub total: i64,
    pub monthly_limit: Option<i64>,
    /// Tokens providers reported for proxied requests, in all and this period.
    pub tokens_total: i64,
    pub tokens_period: i64,
    /// Tokens allowed per usage period (`null`: no budget).
    pub monthly_token_limit: Option<i64>,
    /// Requests allowed per calendar minute (`null`: no limit).
    pub rate_limit_per_minute: Option<i64>,
    pub last_used_at: Option<String>,
    /// Newest first; the first is the current period.
    pub periods: Vec<PeriodUsage>,
}

/// Usage of the credentials the caller may see, per period.
#[utoipa::path(get, path = "/v1/usage", tag = "resolve", security(("bearer" = [])), params(UsageQuery),
    responses((status = 200, body = Page<CredentialUsage>)))]
pub async fn usage(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<Json<Page<CredentialUsage>>, ApiError> {
    let filter = listing_filter(
        &state,
        &principal,
        query.owner.as_deref(),
        query.provider.as_deref(),
        query.limit,
        query.cursor.as_deref(),
    )?;
    let limit = filter.limit;
    let credentials = state.store.list_credentials(&filter).await?;
    let next = next_cursor(&credentials, limit);
    let ids: Vec<_> = credentials.iter().map(|c| c.id).collect();
    let mut history: HashMap<_, Vec<PeriodUsage>> = HashMap::new();
    for h in state.store.usage_history(&ids).await? {
        history.entry(h.credential_id).or_default().push(PeriodUsage {
            period_start: h.period_start.to_rfc3339(),
            requests: h.requests,
            current: false,
        });
    }
    let period = current_period(&state);
    let tokens = token_counts(&state, &credentials).await?;
    let items = credentials
        .iter()
        .map(|c| {
            let mut periods = vec![PeriodUsage {
                period_start: period.to_rfc3339(),
                requests: if c.period_start < period { 0 } else { c.usage_period },
                current: true,
            }];
            // A past period not yet rolled over is still only on the row.
            if c.period_start < period && c.usage_period > 0 {
                periods.push(PeriodUsage {
                    period_start: c.period_start.to_rfc3339(),
                    requests: c.usage_period,
                    current: false,
                });
            }
            periods.extend(history.remove(&c.id).unwrap_or_default());
            CredentialUsage {
                credential_id: c.id.to_string(),
                owner: c.owner.to_string(),
                provider: c.provider.to_string(),
                label: c.label.as_str().to_owned(),
                total: c.usage_total,
                monthly_limit: c.monthly_limit,
                tokens_total: tokens.get(&c.id).map_or(0, |t| t.total),
                tokens_period: tokens.get(&c.id).map_or(0, |t| t.period),
                monthly_token_limit: c.monthly_token_limit,
                rate_limit_per_minute: c.rate_limit_per_minute,
                last_used_at: c.last_used_at.map(|t| t.to_rfc3339()),
                periods,
            }
        })
        .collect();
    Ok(Json(Page { items, next }))
}
