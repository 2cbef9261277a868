//! `GET /v1/audit`: the audit log, filtered and paged (admin only).

use axum::Json;
use axum::extract::State;
use byok_core::{AuditRecord, Role, Timestamp};
use byok_store::AuditFilter;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::extract::ApiQuery;
use crate::views::Page;
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub owner: Option<String>,
    pub credential: Option<String>,
    pub action: Option<String>,
    /// RFC 3339; entries at or after.
    pub since: Option<String>,
    /// RFC 3339; entries before.
    pub until: Option<String>,
    /// 1 to 1000 (default 100).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub chain: String,
    pub seq: i64,
    pub at: String,
    pub actor_token: Option<String>,
    pub actor_role: String,
    pub action: String,
    pub owner: Option<String>,
    pub credential_id: Option<String>,
    pub provider: Option<String>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
}

impl From<AuditRecord> for AuditEntryView {
    fn from(r: AuditRecord) -> Self {
        let e = r.event;
        Self {
            chain: r.chain,
            seq: r.seq,
            at: r.at.to_rfc3339(),
            actor_token: e.actor_token,
            actor_role: e.actor_role,
            action: e.action,
            owner: e.owner,
            credential_id: e.credential_id,
            provider: e.provider,
            outcome: e.outcome,
            request_id: e.request_id,
            client_addr: e.client_addr,
            detail: e.detail,
        }
    }
}

fn parse_time(name: &str, value: &str) -> Result<Timestamp, ApiError> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map(|t| Timestamp::from_millis((t.unix_timestamp_nanos() / 1_000_000) as i64))
        .map_err(|_| ApiError::InvalidQuery(format!("invalid query string: {name} must be an RFC 3339 time")))
}

fn parse_cursor(cursor: &str) -> Result<(i64, String, i64), ApiError> {
    let bad = || ApiError::InvalidQuery("invalid query string: cursor is not a value from `next`".into());
    let mut parts = cursor.split('~');
    let at = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let chain = parts.next().filter(|c| !c.is_empty()).ok_or_else(bad)?.to_owned();
    let seq = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    Ok((at, chain, seq))
}

/// Audit entries, oldest first.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEntryView>), (status = 403, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn list_audit(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditEntryView>>, ApiError> {
    if principal.role != Role::Admin {
        return Err(ApiError::Forbidden("the audit log is for admin tokens".into()));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::InvalidQuery("invalid query string: limit must be 1 to 1000".into()));
    }
    let filter = AuditFilter {
        owner: q.owner,
        credential_id: q.credential,
        action: q.action,
        since: q.since.as_deref().map(|s| parse_time("since", s)).transpose()?,
        until: q.until.as_deref().map(|s| parse_time("until", s)).transpose()?,
        after: q.cursor.as_deref().map(parse_cursor).transpose()?,
        limit,
    };
    let records = state.store.list_audit(&filter).await?;
    let next = (records.len() == limit as usize)
        .then(|| records.last().map(|r| format!("{}~{}~{}", r.at.millis(), r.chain, r.seq)))
        .flatten();
    Ok(Json(Page { items: records.into_iter().map(AuditEntryView::from).collect(), next }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_cursor_is_read_or_refused_without_panic(text in "\\PC{0,80}") {
            let _ = parse_cursor(&text);
        }

        #[test]
        fn cursors_read_back(at in any::<i64>(), chain in "[0-9a-f-]{1,36}", seq in any::<i64>()) {
            let (a, c, s) = parse_cursor(&format!("{at}~{chain}~{seq}")).unwrap();
            prop_assert_eq!((a, c.as_str(), s), (at, chain.as_str(), seq));
        }
    }
}
