use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use byok_core::{AuditAction, OrgId, Owner, Principal, Role, Timestamp, Token, TokenId, VirtualKey};
use byok_crypto::{generate_token, hash_token};
use serde::Deserialize;
use utoipa::ToSchema;

use byok_store::Change;

use crate::audit::{self, RequestInfo};
use crate::auth::Auth;
use crate::extract::ApiJson;
use crate::routes::virtual_keys::{KeyLimits, models_view, providers_view, virtual_scope};
use crate::sealing::current_period;
use crate::views::TokenCreated;
use crate::{ApiError, AppState};

const MAX_EXPIRES_IN: i64 = 10 * 366 * 86_400;
/// How long a settings-page sign-in link may be used from another site.
const SIGN_IN_LINK_SECONDS: i64 = 60;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// `admin`, `service`, `user` or `virtual`.
    #[schema(example = "user")]
    pub role: String,
    /// For `user` tokens: `user:<id>`; for `virtual` keys: `user:<id>` or `org:<id>`.
    #[schema(example = "user:alice")]
    pub owner: Option<String>,
    /// For `user` tokens: bare ids of the orgs whose credentials this user may manage.
    #[schema(example = json!(["acme"]))]
    pub manage_orgs: Option<Vec<String>>,
    pub name: Option<String>,
    /// Lifetime in seconds.
    pub expires_in: Option<i64>,
    /// For `virtual` keys (required): the providers the key may reach, or `["*"]` for all.
    #[schema(example = json!(["openai"]))]
    pub providers: Option<Vec<String>>,
    /// For `virtual` keys: requests allowed per usage period (default: no limit).
    pub monthly_limit: Option<i64>,
    /// For `virtual` keys: tokens (as the providers report them) allowed per usage
    /// period (default: no budget). The request that crosses it finishes; the next is refused.
    pub monthly_token_limit: Option<i64>,
    /// For `virtual` keys: requests allowed per calendar minute, on all instances
    /// together (default: no limit); over it the proxy answers 429 `rate_limited` with
    /// `retry-after`.
    pub rate_limit_per_minute: Option<i64>,
    /// For `virtual` keys: the models it may ask for, exact names or prefixes ending in
    /// `*` (default: any model).
    #[schema(example = json!(["gpt-4o-mini", "claude-3-5-*"]))]
    pub models: Option<Vec<String>>,
    /// For `user` tokens: also answer a one-time link that signs a browser into the
    /// settings page from the product's site (`sign_in_url`).
    pub sign_in_link: Option<bool>,
}

/// Mints a token. Admins mint any role; services mint user tokens and virtual keys.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", security(("bearer" = [])), request_body = CreateToken, responses(
    (status = 201, body = TokenCreated),
    (status = 403, body = crate::Problem, content_type = "application/problem+json"),
    (status = 422, body = crate::Problem, content_type = "application/problem+json"),
))]
pub async fn create_token(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    let role: Role = body.role.parse()?;
    let allowed = match principal.role {
        Role::Admin => true,
        Role::Service => matches!(role, Role::User | Role::Virtual),
        Role::User | Role::Virtual => false,
    };
    if !allowed {
        return Err(ApiError::Forbidden(format!("a {} token may not mint {} tokens", principal.role, role)));
    }
    let (owner, manage_orgs) = token_scope(role, body.owner.as_deref(), body.manage_orgs.unwrap_or_default())?;
    let limits = KeyLimits {
        monthly_limit: body.monthly_limit,
        monthly_token_limit: body.monthly_token_limit,
        rate_limit_per_minute: body.rate_limit_per_minute,
    };
    let scope = virtual_scope(&state, role, body.providers, limits, body.models)?;
    let name = body.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 100 || n.chars().any(char::is_control)) {
        return Err(ApiError::InvalidField("invalid name: must be at most 100 printable characters".into()));
    }
    let now = Timestamp::now();
    let expires_at = match body.expires_in {
        None => None,
        Some(secs) if (1..=MAX_EXPIRES_IN).contains(&secs) => Some(now.plus_seconds(secs)),
        Some(_) => {
            return Err(ApiError::InvalidField(format!("invalid expires_in: must be 1 to {MAX_EXPIRES_IN} seconds")));
        }
    };
    let secret = generate_token(role.token_prefix());
    let token = Token {
        id: TokenId::new(),
        hash: hash_token(&secret),
        role,
        owner,
        manage_orgs,
        name,
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    let sign_in_link = body.sign_in_link.unwrap_or(false);
    if sign_in_link && role != Role::User {
        return Err(ApiError::InvalidField(
            "invalid sign_in_link: only user tokens sign in to the settings page".into(),
        ));
    }
    let virtual_key = scope.map(|s| VirtualKey {
        token_id: token.id,
        providers: s.providers,
        monthly_limit: s.limits.monthly_limit,
        monthly_token_limit: s.limits.monthly_token_limit,
        rate_limit_per_minute: s.limits.rate_limit_per_minute,
        models: s.models,
    });
    let mut event = audit::event(&principal, &info, AuditAction::TokenCreate, "ok");
    event.owner = token.owner.as_ref().map(Owner::to_string);
    event.detail = Some(format!("{role} token {}", token.id));
    let change = match &virtual_key {
        Some(key) => {
            Change::InsertVirtualKey { token: token.clone(), key: key.clone(), period: current_period(&state) }
        }
        None => Change::InsertToken {
            token: token.clone(),
            sign_in_link_until: sign_in_link.then(|| now.plus_seconds(SIGN_IN_LINK_SECONDS)),
        },
    };
    state.audit.commit(change, vec![event]).await?;
    tracing::info!(token_id = %token.id, role = %role, "token created");
    let sign_in_url = sign_in_link.then(|| format!("/ui/login?token={secret}"));
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            id: token.id.to_string(),
            token: secret,
            role: role.to_string(),
            owner: token.owner.as_ref().map(Owner::to_string),
            manage_orgs: token.manage_orgs.iter().map(|o| o.to_string()).collect(),
            name: token.name,
            expires_at: expires_at.map(Timestamp::to_rfc3339),
            providers: virtual_key.as_ref().map(|k| providers_view(&k.providers)),
            monthly_limit: virtual_key.as_ref().and_then(|k| k.monthly_limit),
            monthly_token_limit: virtual_key.as_ref().and_then(|k| k.monthly_token_limit),
            rate_limit_per_minute: virtual_key.as_ref().and_then(|k| k.rate_limit_per_minute),
            models: virtual_key.as_ref().and_then(|k| models_view(&k.models)),
            sign_in_url,
        }),
    ))
}

fn token_scope(role: Role, owner: Option<&str>, orgs: Vec<String>) -> Result<(Option<Owner>, Vec<OrgId>), ApiError> {
    match role {
        Role::Virtual => {
            let owner: Owner = owner
                .ok_or_else(|| {
                    ApiError::InvalidField(
                        "invalid owner: a virtual key needs `owner`: `user:<id>` or `org:<id>`".into(),
                    )
                })?
                .parse()?;
            if owner.is_platform() || !orgs.is_empty() {
                return Err(ApiError::InvalidField(
                    "invalid owner: a virtual key's owner is `user:<id>` or `org:<id>`, without manage_orgs".into(),
                ));
            }
            Ok((Some(owner), Vec::new()))
        }
        Role::User => {
            let owner: Owner = owner
                .ok_or_else(|| ApiError::InvalidField("invalid owner: a user token needs `owner`: `user:<id>`".into()))?
                .parse()?;
            if !matches!(owner, Owner::User(_)) {
                return Err(ApiError::InvalidField("invalid owner: a user token's owner must be `user:<id>`".into()));
            }
            let mut manage_orgs = Vec::with_capacity(orgs.len());
            for org in &orgs {
                let org = OrgId::parse(org.strip_prefix("org:").unwrap_or(org))?;
                if !manage_orgs.contains(&org) {
                    manage_orgs.push(org);
                }
            }
            Ok((Some(owner), manage_orgs))
        }
        Role::Admin | Role::Service => {
            if owner.is_some() || !orgs.is_empty() {
                return Err(ApiError::InvalidField(format!(
                    "invalid owner: {role} tokens have no owner or manage_orgs"
                )));
            }
            Ok((None, Vec::new()))
        }
    }
}

/// Revokes a token. Services may revoke only user tokens and virtual keys.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "token id")),
    responses((status = 204), (status = 404, body = crate::Problem, content_type = "application/problem+json")))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Auth(principal): Auth,
    info: RequestInfo,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: TokenId = id.parse().map_err(|_| ApiError::NotFound)?;
    let token = state.store.get_token(&id).await?.ok_or(ApiError::NotFound)?;
    if !may_revoke(&principal, &token) {
        return Err(ApiError::NotFound);
    }
    let mut event = audit::event(&principal, &info, AuditAction::TokenRevoke, "ok");
    event.owner = token.owner.as_ref().map(Owner::to_string);
    event.detail = Some(format!("{} token {id}", token.role));
    if state.audit.commit(Change::RevokeToken { id, now: Timestamp::now() }, vec![event]).await? {
        tracing::info!(token_id = %id, "token revoked");
    }
    // Effective here at once; other instances see the new epoch at their next poll.
    state.token_cache.refresh(state.store.as_ref()).await;
    Ok(StatusCode::NO_CONTENT)
}

fn may_revoke(principal: &Principal, token: &Token) -> bool {
    match principal.role {
        Role::Admin => true,
        Role::Service => matches!(token.role, Role::User | Role::Virtual),
        Role::User | Role::Virtual => false,
    }
}
