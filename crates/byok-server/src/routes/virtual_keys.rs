//! Virtual keys on the token routes: their scope when minted, and `GET /v1/tokens/{id}`
//! with a virtual key's usage.

use axum::Json;
use axum::extract::{Path, State};
use byok_core::{ModelPattern, ProviderId, Role, Timestamp, TokenId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::sealing::current_period;
use crate::{ApiError, AppState};

/// What a virtual key may do, as minted.
pub(crate) struct Scope {
    pub providers: Vec<ProviderId>,
    pub limits: KeyLimits,
    pub models: Vec<ModelPattern>,
}

/// A virtual key's own limits, as asked for.
#[derive(Clone, Copy)]
pub(crate) struct KeyLimits {
    pub monthly_limit: Option<i64>,
    pub monthly_token_limit: Option<i64>,
    pub rate_limit_per_minute: Option<i64>,
}

/// Written in `providers` for a virtual key that may reach every provider.
const EVERY_PROVIDER: &str = "*";

/// A virtual key's providers (named explicitly, or `["*"]` for all; checked against the
/// catalog, without repeats) and limits; `None` for other roles, which may not set
/// either.
pub(crate) fn virtual_scope(
    state: &AppState,
    role: Role,
    providers: Option<Vec<String>>,
    limits: KeyLimits,
    models: Option<Vec<String>>,
) -> Result<Option<Scope>, ApiError> {
    let KeyLimits { monthly_limit, monthly_token_limit, rate_limit_per_minute } = limits;
    if role != Role::Virtual {
        let limited = monthly_limit.is_some() || monthly_token_limit.is_some() || rate_limit_per_minute.is_some();
        if providers.is_some() || limited || models.is_some() {
            return Err(ApiError::InvalidField(format!(
                "invalid providers: only virtual keys have providers, monthly_limit, monthly_token_limit, \
                 rate_limit_per_minute and models, not {role} tokens"
            )));
        }
        return Ok(None);
    }
    let models = match models {
        Some(list) if list.is_empty() => {
            return Err(ApiError::InvalidField(
                "invalid models: name at least one model or prefix, or leave `models` out for any model".into(),
            ));
        }
        Some(list) if list.len() > MAX_MODELS => {
            return Err(ApiError::InvalidField(format!("invalid models: at most {MAX_MODELS} patterns")));
        }
        Some(list) => list.iter().map(|m| ModelPattern::parse(m)).collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    if monthly_limit.is_some_and(|l| l < 0) {
        return Err(ApiError::InvalidField("invalid monthly_limit: must be 0 or more".into()));
    }
    if monthly_token_limit.is_some_and(|l| l < 0) {
        return Err(ApiError::InvalidField("invalid monthly_token_limit: must be 0 or more".into()));
    }
    if let Some(limit) = rate_limit_per_minute {
        crate::routes::check_rate_limit(limit)?;
    }
    let names = providers.filter(|p| !p.is_empty()).ok_or_else(|| {
        ApiError::InvalidField(
            "invalid providers: a virtual key names the providers it may reach, or [\"*\"] for every provider".into(),
        )
    })?;
    if names.iter().any(|n| n == EVERY_PROVIDER) {
        if names.len() > 1 {
            return Err(ApiError::InvalidField("invalid providers: \"*\" stands alone".into()));
        }
        return Ok(Some(Scope { providers: Vec::new(), limits, models }));
    }
    let mut ids: Vec<ProviderId> = Vec::new();
    for name in names {
        let id = state.catalog.get(&name)?.id.clone();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(Some(Scope { providers: ids, limits, models }))
}

/// Most model patterns a virtual key carries.
const MAX_MODELS: usize = 100;

/// A virtual key's model list as answered; none when it allows every model.
pub(crate) fn models_view(models: &[ModelPattern]) -> Option<Vec<String>> {
    (!models.is_empty()).then(|| models.iter().map(|m| m.as_str().to_owned()).collect())
}

/// A virtual key's providers as answered: their ids, or `["*"]` for every provider.
pub(crate) fn providers_view(providers: &[ProviderId]) -> Vec<String> {
    if providers.is_empty() {
        return vec![EVERY_PROVIDER.to_owned()];
    }
    providers.iter().map(ProviderId::to_string).collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VirtualKeyUsageView {
    pub total: i64,
    pub period: i64,
    pub period_start: String,
    pub monthly_limit: Option<i64>,
    pub tokens_total: i64,
    pub tokens_period: i64,
    /// Tokens allowed per usage period (`None`: no budget).
    pub monthly_token_limit: Option<i64>,
    /// Requests allowed per calendar minute (`None`: no limit).
    pub rate_limit_per_minute: Option<i64>,
    pub last_used_at: Option<String>,
}

/// A token as answered (never the token itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub role: String,
    pub owner: Option<String>,
    pub name: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// For virtual keys: the providers it may reach (`["*"]`: all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<String>>,
    /// For virtual keys limited to certain models: the names and `*` prefixes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// For virtual keys: requests and tokens through the proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<VirtualKeyUsageView>,
}

/// One token. Admins see any; services see user tokens and virtual keys.
#[utoipa::path(get, path = "/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "token id")),
    responses((status = 200, body = TokenView), (status = 404, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn get_token(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let id: TokenId = id.parse().map_err(|_| ApiError::NotFound)?;
    let token = state.store.get_token(&id).await?.ok_or(ApiError::NotFound)?;
    let visible = match principal.role {
        Role::Admin => true,
        Role::Service => matches!(token.role, Role::User | Role::Virtual),
        Role::User | Role::Virtual => false,
    };
    if !visible {
        return Err(ApiError::NotFound);
    }
    let (providers, models, usage) = if token.role == Role::Virtual {
        let key = state.store.virtual_key(&id).await?;
        let usage = state.store.virtual_key_usage(&id, current_period(&state)).await?;
        let view = usage.map(|u| VirtualKeyUsageView {
            total: u.total,
            period: u.period,
            period_start: u.period_start.to_rfc3339(),
            monthly_limit: key.as_ref().and_then(|k| k.monthly_limit),
            tokens_total: u.tokens_total,
            tokens_period: u.tokens_period,
            monthly_token_limit: key.as_ref().and_then(|k| k.monthly_token_limit),
            rate_limit_per_minute: key.as_ref().and_then(|k| k.rate_limit_per_minute),
            last_used_at: u.last_used_at.map(Timestamp::to_rfc3339),
        });
        let models = key.as_ref().and_then(|k| models_view(&k.models));
        (key.map(|k| providers_view(&k.providers)), models, view)
    } else {
        (None, None, None)
    };
    Ok(Json(TokenView {
        id: token.id.to_string(),
        role: token.role.to_string(),
        owner: token.owner.as_ref().map(|o| o.to_string()),
        name: token.name,
        created_at: token.created_at.to_rfc3339(),
        expires_at: token.expires_at.map(Timestamp::to_rfc3339),
        revoked_at: token.revoked_at.map(Timestamp::to_rfc3339),
        providers,
        models,
        usage,
    }))
}
