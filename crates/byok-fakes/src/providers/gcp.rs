//! Google's OAuth token endpoint (and, on the same origin, the Vertex AI of
//! [`super::vertex`]), `POST /token` with the JWT-bearer grant
//! (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`). The
//! fake verifies the RS256 signature against the public half of the test key and
//! checks the claims; errors are `{"error", "error_description"}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::{hang, header, json};
use crate::credentials::{Behaviour, GCP_KEY_PEM, behaviour};
use crate::record::decode_form;

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google's OAuth scopes (`…/auth/cloud-platform`, `…/auth/devstorage.read_only` …).
const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";
/// Tokens issued so far: each one is different.
static ISSUED: AtomicU64 = AtomicU64::new(1);

struct Token {
    /// `<origin>/token`: the only audience this endpoint accepts.
    audience: String,
    /// The public key of the registered service accounts (PKCS#1 DER).
    public_key: Option<Vec<u8>>,
}

pub(crate) fn router(origin: &str) -> Router {
    let state = Arc::new(Token { audience: format!("{origin}/token"), public_key: public_key(GCP_KEY_PEM) });
    Router::new().route("/token", post(token)).with_state(state).merge(super::vertex::router())
}

fn public_key(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).ok()?;
    let pair = RsaKeyPair::from_pkcs8(&der).ok()?;
    Some(pair.public_key().as_ref().to_vec())
}

async fn token(State(token): State<Arc<Token>>, headers: HeaderMap, body: Bytes) -> Response {
    if !header(&headers, "content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        return error(400, "invalid_request", "Bad Request");
    }
    let form = decode_form(&body);
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if field("grant_type") != Some(GRANT_TYPE) {
        return error(400, "unsupported_grant_type", "Invalid grant_type: ");
    }
    let Some(assertion) = field("assertion") else {
        return error(400, "invalid_request", "Missing required parameter: assertion");
    };
    let Some((header_json, claims, signed, signature)) = split(assertion) else {
        return error(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    };
    if header_json.get("alg").and_then(Value::as_str) != Some("RS256") {
        return error(400, "invalid_grant", "Invalid JWT Signature.");
    }
    let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
    let Some(known) = behaviour("gcp", issuer) else {
        return error(400, "invalid_grant", "Invalid grant: account not found");
    };
    let verified = token.public_key.as_ref().is_some_and(|key| {
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, key)
            .verify(signed.as_bytes(), &signature)
            .is_ok()
    });
    if !verified {
        return error(400, "invalid_grant", "Invalid JWT Signature.");
    }
    if claims.get("aud").and_then(Value::as_str) != Some(token.audience.as_str()) {
        return error(
            400,
            "invalid_grant",
            "Invalid JWT: Failed audience check. The expected audience is the token endpoint.",
        );
    }
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or_default();
    if scope.is_empty() || !scope.split(' ').all(|s| s.starts_with(SCOPE_PREFIX)) {
        return error(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    }
    if !short_lived_and_current(&claims) {
        return error(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    match known {
        Behaviour::Good => {
            let token = format!("ya29.c.fake-access-token-{}", ISSUED.fetch_add(1, Ordering::Relaxed));
            super::vertex::issued(&token, scope);
            json(200, json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
        }
        Behaviour::ServerError => error(500, "internal_failure", "Backend Error"),
        Behaviour::RateLimited => error(429, "rate_limit_exceeded", "Rate Limit Exceeded"),
        Behaviour::Hang => hang().await,
        Behaviour::Restricted => error(400, "invalid_grant", "Invalid grant: account not found"),
    }
}

/// Header, claims, the signed part and the signature of a compact JWT.
fn split(jwt: &str) -> Option<(Value, Value, String, Vec<u8>)> {
    let mut parts = jwt.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decode = |part: &str| -> Option<Value> { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok() };
    Some((decode(h)?, decode(c)?, format!("{h}.{c}"), URL_SAFE_NO_PAD.decode(s).ok()?))
}

/// `iat` within five minutes of now, `exp` after it and at most an hour later.
fn short_lived_and_current(claims: &Value) -> bool {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (Some(iat), Some(exp)) = (claims.get("iat").and_then(Value::as_u64), claims.get("exp").and_then(Value::as_u64))
    else {
        return false;
    };
    iat.abs_diff(now) <= 300 && exp > iat && exp - iat <= 3600
}

fn error(status: u16, code: &str, description: &str) -> Response {
    json(status, json!({"error": code, "error_description": description}))
}
