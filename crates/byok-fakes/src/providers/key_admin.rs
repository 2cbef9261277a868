//! Endpoints that mint new provider keys, as the providers document them: what a
//! virtual key must never reach. Resend `POST /api-keys` (201 `{id, token}`), OpenAI
//! `POST /v1/organization/admin_api_keys` (200 with the new key's `value`) and Twilio
//! `POST /2010-04-01/Accounts/{AccountSid}/Keys.json` (201 with the new key's `secret`).

use axum::Router;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use super::{bearer, json};
use crate::credentials::{Behaviour, behaviour};

/// The key a reached key-management endpoint hands out.
pub const MINTED_KEY: &str = "re_minted_by_key_management_0123456789";

pub(crate) fn resend() -> Router {
    Router::new().route("/api-keys", post(resend_api_key))
}

pub(crate) fn openai() -> Router {
    Router::new().route("/v1/organization/admin_api_keys", post(openai_admin_key))
}

pub(crate) fn twilio() -> Router {
    Router::new().route("/2010-04-01/Accounts/{account}/Keys.json", post(twilio_key))
}

fn authorised(provider: &str, headers: &HeaderMap) -> bool {
    bearer(headers).and_then(|key| behaviour(provider, key)) == Some(Behaviour::Good)
}

async fn resend_api_key(headers: HeaderMap) -> Response {
    if !authorised("resend", &headers) {
        return json(401, json!({"statusCode": 401, "message": "API key is invalid", "name": "validation_error"}));
    }
    json(201, json!({"id": "dacf4072-4119-4d88-932f-6202748ac7c8", "token": MINTED_KEY}))
}

async fn openai_admin_key(headers: HeaderMap) -> Response {
    if !authorised("openai", &headers) {
        return json(401, json!({"error": {"message": "Invalid admin key", "type": "invalid_request_error"}}));
    }
    json(
        200,
        json!({"object": "organization.admin_api_key", "id": "key_xyz", "name": "New Admin Key",
               "redacted_value": "sk-admin...xyz", "value": MINTED_KEY, "created_at": 1711471533}),
    )
}

async fn twilio_key(Path(account): Path<String>, headers: HeaderMap) -> Response {
    if !headers.contains_key("authorization") {
        return json(
            401,
            json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}),
        );
    }
    json(
        201,
        json!({"sid": "SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "friendly_name": "minted", "account_sid": account,
               "date_created": "Mon, 01 Dec 2026 00:00:00 +0000", "secret": MINTED_KEY}),
    )
}
