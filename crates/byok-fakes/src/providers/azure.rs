//! Microsoft Entra ID `POST /{tenant}/oauth2/v2.0/token` (and, on the same origin, the
//! Azure OpenAI resource of [`super::azure_openai`]) with the client-credentials
//! grant (form fields `client_id`, `client_secret`, `grant_type`, `scope`, each scope a
//! resource's `/.default`); errors are
//! `{"error", "error_description", "error_codes", "timestamp", "trace_id",
//! "correlation_id", "error_uri"}`.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use super::{hang, json};
use crate::credentials::{AZURE_CLIENT_ID, AZURE_TENANT_ID, Behaviour, behaviour};
use crate::record::decode_form;

/// Tokens issued so far: each one is different.
static ISSUED: AtomicU64 = AtomicU64::new(1);

pub(crate) fn router() -> Router {
    Router::new().route("/{tenant}/oauth2/v2.0/token", post(token)).merge(super::azure_openai::router())
}

async fn token(Path(tenant): Path<String>, body: Bytes) -> Response {
    let form = decode_form(&body);
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if tenant != AZURE_TENANT_ID {
        return error(
            400,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID \
                 and are signing into the correct cloud."
            ),
        );
    }
    if field("grant_type") != Some("client_credentials") {
        return error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
    }
    let scope = field("scope").unwrap_or_default();
    if scope.is_empty() {
        return error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    }
    if let Some(bad) = scope.split(' ').find(|s| !s.ends_with("/.default")) {
        return error(
            400,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {bad} is not valid. Client credential flows must \
                 have a scope value with /.default suffixed to the resource identifier \
                 (application ID URI)."
            ),
        );
    }
    let client_id = field("client_id").unwrap_or_default();
    if client_id != AZURE_CLIENT_ID {
        return error(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory \
                 '{tenant}'."
            ),
        );
    }
    match behaviour("azure", field("client_secret").unwrap_or_default()) {
        Some(Behaviour::Good) => {
            let token =
                format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake.token-{}", ISSUED.fetch_add(1, Ordering::Relaxed));
            super::azure_openai::issued(&token, scope);
            json(
                200,
                json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}),
            )
        }
        Some(Behaviour::ServerError) => {
            error(500, "server_error", 90033, "A transient error has occurred. Please try again.")
        }
        Some(Behaviour::RateLimited) => error(
            429,
            "temporarily_unavailable",
            50196,
            "The server terminated an operation because it encountered a client request loop.",
        ),
        Some(Behaviour::Hang) => hang().await,
        Some(Behaviour::Restricted) | None => error(
            401,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is \
                 the client secret value, not the client secret ID, for a secret added to app \
                 '{AZURE_CLIENT_ID}'."
            ),
        ),
    }
}

fn error(status: u16, error: &str, code: u32, description: &str) -> Response {
    json(
        status,
        json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {description} Trace ID: 0b5a1c66-1d2e-4c1f-9a7e-2f7c1b0d5e00 \
                 Correlation ID: 4a3b2c1d-0e9f-8a7b-6c5d-4e3f2a1b0c9d Timestamp: 2026-01-01 00:00:00Z"
            ),
            "error_codes": [code],
            "timestamp": "2026-01-01 00:00:00Z",
            "trace_id": "0b5a1c66-1d2e-4c1f-9a7e-2f7c1b0d5e00",
            "correlation_id": "4a3b2c1d-0e9f-8a7b-6c5d-4e3f2a1b0c9d",
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}")
        }),
    )
}
