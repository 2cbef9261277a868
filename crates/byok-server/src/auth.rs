//! Bearer-token authentication: a byok token is hashed and looked up (only hashes are
//! ever compared or stored); a JWT of the product's own sign-in, where configured, is
//! verified and acts as a user token.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use byok_core::{AuditAction, AuditEvent, Principal, Role, Timestamp};
use byok_crypto::hash_token;

use crate::audit::request_info;
use crate::{ApiError, AppState};

/// The authenticated caller of a request.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let outcome = match bearer(parts) {
            Some(token) => authenticate(state, token).await,
            None => Err(ApiError::Unauthorized),
        };
        // A virtual key is accepted by the proxy alone.
        let outcome = outcome.and_then(|p| if p.role == Role::Virtual { Err(ApiError::Unauthorized) } else { Ok(p) });
        if outcome.as_ref().is_err_and(ApiError::is_unauthenticated) {
            record_refusal(state, parts).await;
        }
        outcome.map(Auth)
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    if !token.starts_with("byok_")
        && let Some(jwt) = &state.jwt
        && crate::jwt::looks_like_jwt(token)
    {
        return jwt.verify(token).await.map_err(ApiError::JwtRefused);
    }
    // Cheap shape check first: a byok token is a typed prefix and 64 hex characters.
    if !token.starts_with("byok_") || token.len() > byok_crypto::MAX_TOKEN_LEN {
        return Err(ApiError::Unauthorized);
    }
    let hash = hash_token(token);
    if let Some(admin) = &state.settings.admin_token_hash
        && byok_crypto::constant_time_eq(admin, &hash)
    {
        return Ok(Principal::bootstrap_admin());
    }
    let now = Timestamp::now();
    if let Some(principal) = state.token_cache.get(&hash, now) {
        return Ok(principal);
    }
    // The epoch is read before the lookup: a revocation racing with it leaves an entry
    // under the old epoch, which is never used.
    let epoch = state.token_cache.current_epoch();
    match state.store.token_by_hash(&hash).await? {
        Some(stored) if stored.is_active(now) => {
            if let Some(epoch) = epoch {
                state.token_cache.put(hash, &stored, epoch);
            }
            Ok(Principal::from_token(&stored))
        }
        _ => Err(ApiError::Unauthorized),
    }
}

/// Every refused authentication is audited (without the presented token). A failure to
/// write it is logged; the request is refused either way.
pub(crate) async fn record_refusal(state: &AppState, parts: &Parts) {
    let info = request_info(parts);
    // Inside the nested `/v1` router the URI has lost its prefix; log the one asked for.
    let path = parts.extensions.get::<axum::extract::OriginalUri>().map_or(parts.uri.path(), |u| u.0.path());
    let event = AuditEvent {
        actor_role: "anonymous".to_owned(),
        action: AuditAction::AuthRefused.as_str().to_owned(),
        outcome: "denied".to_owned(),
        request_id: info.request_id,
        client_addr: info.client_addr,
        detail: Some(format!(
            "{} {}",
            parts.method,
            byok_core::redact_tokens(path).chars().take(200).collect::<String>()
        )),
        ..AuditEvent::default()
    };
    if let Err(e) = state.audit.record(event).await {
        tracing::error!(error = %e, "refused authentication could not be audited");
    }
}
