//! The product's own sign-in: a JWT from Supabase, Clerk, Auth0 or any OIDC provider
//! acts as a user token for `user:<claim>` and the orgs it says the user administers.
//! Verified with `jsonwebtoken`: RS256, ES256 and EdDSA against the provider's JWKS
//! (cached; fetched again on an unknown `kid`, at most every 30 s, through the SSRF
//! guard), HS256 with a shared secret (Supabase's legacy one). `exp`, `nbf`, `iss` and
//! `aud` are enforced with 60 s of leeway; `alg: none` and a token whose algorithm the
//! key was not made for (HS256 with an RSA key's bytes) are refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use byok_core::{Clock, OrgId, Owner, Principal, Role, SecretValue, Timestamp, UserId};
use byok_providers::Prober;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

/// Leeway for `exp` and `nbf`, for clocks a little apart.
const LEEWAY_SECS: u64 = 60;
/// The JWKS is fetched again on an unknown `kid` at most this often.
const REFETCH_AFTER_MS: i64 = 30_000;

/// How JWTs are verified and read (`BYOK_JWT_*`).
#[derive(Debug, Clone, Default)]
pub struct JwtSettings {
    pub jwks_url: Option<String>,
    pub hs256_secret: Option<SecretValue>,
    pub issuer: Option<String>,
    /// Unset: `aud` is not checked (Clerk's session tokens carry none).
    pub audience: Option<String>,
    /// JSON pointer to the user id (default `/sub`).
    pub user_claim: String,
    /// JSON pointer to the org (a string) or orgs (an array of strings) the user manages.
    pub orgs_claim: Option<String>,
    /// JSON pointer to the user's role in those orgs; with `org_admin_roles`, orgs count
    /// only when it is one of them.
    pub org_role_claim: Option<String>,
    pub org_admin_roles: Vec<String>,
}

/// Why a JWT was refused: each has its own problem `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtRefusal {
    Malformed,
    AlgorithmNotAllowed,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    NoUser,
    KeysUnavailable,
}

impl JwtRefusal {
    pub fn code_and_detail(self) -> (&'static str, &'static str) {
        match self {
            Self::Malformed => ("jwt_malformed", "the JWT could not be read"),
            Self::AlgorithmNotAllowed => {
                ("jwt_algorithm", "the JWT's algorithm is not one byok accepts from this issuer")
            }
            Self::UnknownKey => ("jwt_unknown_key", "the JWT's `kid` is not in the issuer's key set"),
            Self::BadSignature => ("jwt_signature", "the JWT's signature does not verify"),
            Self::Expired => ("jwt_expired", "the JWT has expired"),
            Self::NotYetValid => ("jwt_not_yet_valid", "the JWT is not valid yet (`nbf`)"),
            Self::WrongIssuer => ("jwt_issuer", "the JWT's issuer is not the one configured"),
            Self::WrongAudience => ("jwt_audience", "the JWT's audience is not the one configured"),
            Self::NoUser => ("jwt_user", "the JWT's user claim is missing or not a valid user id"),
            Self::KeysUnavailable => ("jwt_keys_unavailable", "the issuer's key set could not be fetched"),
        }
    }
}

/// A key of the JWKS, with the one algorithm it verifies.
struct Key {
    algorithm: Algorithm,
    key: DecodingKey,
}

pub(crate) struct JwtVerifier {
    settings: JwtSettings,
    prober: Prober,
    clock: Arc<dyn Clock>,
    hs256: Option<DecodingKey>,
    keys: RwLock<HashMap<String, Key>>,
    fetched: Mutex<Option<Timestamp>>,
    /// One fetch at a time; callers that wait find the keys it fetched.
    fetching: tokio::sync::Mutex<()>,
}

impl JwtVerifier {
    pub(crate) fn new(settings: JwtSettings, prober: Prober, clock: Arc<dyn Clock>) -> Self {
        let hs256 = settings.hs256_secret.as_ref().and_then(|s| DecodingKey::from_secret(s.expose().as_bytes()).ok());
        Self {
            settings,
            prober,
            clock,
            hs256,
            keys: RwLock::default(),
            fetched: Mutex::default(),
            fetching: tokio::sync::Mutex::default(),
        }
    }

    /// The user principal `token` stands for.
    pub(crate) async fn verify(&self, token: &str) -> Result<Principal, JwtRefusal> {
        let header = decode_header(token).map_err(|_| unreadable_header(token))?;
        let claims = match header.alg {
            Algorithm::HS256 => {
                let key = self.hs256.as_ref().ok_or(JwtRefusal::AlgorithmNotAllowed)?;
                self.decode(token, Algorithm::HS256, key)?
            }
            Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA if self.settings.jwks_url.is_some() => {
                let kid = header.kid.ok_or(JwtRefusal::UnknownKey)?;
                if !self.has_key(&kid) {
                    self.refetch().await?;
                }
                let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
                let key = keys.get(&kid).ok_or(JwtRefusal::UnknownKey)?;
                if key.algorithm != header.alg {
                    return Err(JwtRefusal::AlgorithmNotAllowed);
                }
                self.decode(token, header.alg, &key.key)?
            }
            _ => return Err(JwtRefusal::AlgorithmNotAllowed),
        };
        self.principal(&claims)
    }

    fn decode(&self, token: &str, algorithm: Algorithm, key: &DecodingKey) -> Result<Value, JwtRefusal> {
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        if let Some(issuer) = &self.settings.issuer {
            validation.set_issuer(&[issuer]);
        }
        match &self.settings.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        use jsonwebtoken::errors::ErrorKind;
        decode::<Value>(token, key, &validation).map(|data| data.claims).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => JwtRefusal::Expired,
            ErrorKind::ImmatureSignature => JwtRefusal::NotYetValid,
            ErrorKind::InvalidIssuer => JwtRefusal::WrongIssuer,
            ErrorKind::InvalidAudience => JwtRefusal::WrongAudience,
            ErrorKind::InvalidSignature => JwtRefusal::BadSignature,
            ErrorKind::InvalidAlgorithm => JwtRefusal::AlgorithmNotAllowed,
            ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => JwtRefusal::WrongIssuer,
            ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => JwtRefusal::WrongAudience,
            _ => JwtRefusal::Malformed,
        })
    }

    fn has_key(&self, kid: &str) -> bool {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).contains_key(kid)
    }

    /// Fetches the JWKS again unless it was fetched in the last 30 s.
    async fn refetch(&self) -> Result<(), JwtRefusal> {
        let _one = self.fetching.lock().await;
        let now = self.clock.now();
        let recent = self
            .fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| now.millis() - at.millis() < REFETCH_AFTER_MS);
        if recent {
            return Ok(());
        }
        let url = self.settings.jwks_url.as_deref().ok_or(JwtRefusal::AlgorithmNotAllowed)?;
        let fetched = self.prober.fetch_json(url).await;
        *self.fetched.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        let set: JwkSet =
            fetched.and_then(|json| serde_json::from_value(json).map_err(|e| e.to_string())).map_err(|reason| {
                tracing::warn!(url, reason, "the JWKS could not be fetched");
                JwtRefusal::KeysUnavailable
            })?;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let algorithm = match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
                    AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => Algorithm::EdDSA,
                    _ => return None,
                };
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((jwk.common.key_id.clone()?, Key { algorithm, key }))
            })
            .collect();
        // A rotated-out key disappears with the set that no longer lists it.
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(())
    }

    /// `user:<user claim>` managing the orgs of the orgs claim (when the role allows).
    fn principal(&self, claims: &Value) -> Result<Principal, JwtRefusal> {
        let user = claims.pointer(&self.settings.user_claim).and_then(Value::as_str).ok_or(JwtRefusal::NoUser)?;
        let user = UserId::parse(user).map_err(|_| JwtRefusal::NoUser)?;
        let admin = match (&self.settings.org_role_claim, self.settings.org_admin_roles.is_empty()) {
            (Some(pointer), false) => claims
                .pointer(pointer)
                .and_then(Value::as_str)
                .is_some_and(|role| self.settings.org_admin_roles.iter().any(|r| r == role)),
            _ => true,
        };
        let orgs: Vec<OrgId> = match self.settings.orgs_claim.as_deref().and_then(|p| claims.pointer(p)) {
            Some(Value::String(org)) => OrgId::parse(org).into_iter().collect(),
            Some(Value::Array(orgs)) => {
                orgs.iter().filter_map(Value::as_str).filter_map(|o| OrgId::parse(o).ok()).collect()
            }
            _ => Vec::new(),
        };
        Ok(Principal {
            token_id: None,
            role: Role::User,
            owner: Some(Owner::User(user)),
            manage_orgs: if admin { orgs } else { Vec::new() },
        })
    }
}

/// Why a header could not be read: an algorithm byok does not take (`none`, say) or
/// not a JWT header at all.
fn unreadable_header(token: &str) -> JwtRefusal {
    let alg = part(token, 0).is_some_and(|h| h.get("alg").is_some_and(Value::is_string));
    if alg { JwtRefusal::AlgorithmNotAllowed } else { JwtRefusal::Malformed }
}

/// The `exp` of a JWT already verified (seconds since the epoch).
pub(crate) fn expires_at(token: &str) -> Option<i64> {
    part(token, 1)?.get("exp")?.as_i64()
}

/// Part `index` of a JWT (0 the header, 1 the claims) as JSON, unverified.
fn part(token: &str, index: usize) -> Option<Value> {
    use base64::Engine as _;
    let encoded = token.split('.').nth(index)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether `token` has a JWT's shape (three base64url parts).
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.len() <= 16 * 1024
        && token.split('.').count() == 3
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}
