//! OpenRouter `GET /api/v1/key` (the current key's details): `Authorization: Bearer`;
//! errors as `{"error": {"message", "code"}}`.

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::{Answers, answer, bearer, json};

pub(crate) fn router() -> Router {
    Router::new().route("/api/v1/key", get(key))
}

async fn key(headers: HeaderMap) -> Response {
    let Some(key) = bearer(&headers) else {
        return error(401, "No auth credentials found");
    };
    answer("openrouter", key, &ANSWERS).await
}

const ANSWERS: Answers = Answers {
    ok: || {
        json(
            200,
            json!({"data": {
                "label": "sk-or-v1-fak...cdef", "limit": 100, "limit_remaining": 74.5,
                "limit_reset": "monthly", "usage": 25.5, "usage_daily": 25.5,
                "usage_weekly": 25.5, "usage_monthly": 25.5, "is_free_tier": false,
                "is_provisioning_key": false, "include_byok_in_limit": false
            }}),
        )
    },
    invalid: || error(401, "User not found."),
    restricted: None,
    server_error: || error(500, "Internal Server Error"),
    rate_limited: || error(429, "Rate limit exceeded"),
};

fn error(code: u16, message: &str) -> Response {
    json(code, json!({"error": {"message": message, "code": code}}))
}
