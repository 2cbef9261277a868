//! Bearer-token authentication: the header's token is hashed and looked up; only
//! hashes are ever compared or stored.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use byok_core::{Principal, Role, Timestamp};
use byok_crypto::hash_token;

use crate::{ApiError, AppState};

/// The authenticated caller of a request.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let principal = authenticate(state, token).await?;
        // A virtual key is accepted by the proxy alone.
        if principal.role == Role::Virtual {
            return Err(ApiError::Unauthorized);
        }
        Ok(Auth(principal))
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    // Cheap shape check first: a byok token is a typed prefix and 64 hex characters.
    if !token.starts_with("byok_") || token.len() > 128 {
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
