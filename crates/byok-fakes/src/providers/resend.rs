//! Resend `GET /domains` and the emails (see [`super::resend_emails`]):
//! `Authorization: Bearer`, and a `User-Agent` (requests without one are refused with
//! 403, Cloudflare error 1010); errors as `{"statusCode", "message", "name"}`.

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::{Answers, answer, bearer, header, json, typed};
use crate::credentials::{RESEND_PENDING_DOMAIN, RESEND_VERIFIED_DOMAIN};

pub(crate) fn router() -> Router {
    Router::new().route("/domains", get(domains)).merge(super::resend_emails::router())
}

async fn domains(headers: HeaderMap) -> Response {
    if header(&headers, "user-agent").is_none_or(str::is_empty) {
        return typed(403, "text/plain; charset=UTF-8", "error code: 1010".to_owned());
    }
    let Some(key) = bearer(&headers) else {
        return error(401, "missing_api_key", "Missing API key in the authorization header.");
    };
    answer("resend", key, &ANSWERS).await
}

const ANSWERS: Answers = Answers {
    ok: || {
        json(
            200,
            json!({
                "object": "list",
                "has_more": false,
                "data": [
                    {"id": "d91cd9bd-1176-453e-8fc1-35364d380206", "name": RESEND_VERIFIED_DOMAIN,
                     "status": "verified", "created_at": "2023-04-26T20:21:26.347412+00:00",
                     "region": "us-east-1",
                     "capabilities": {"sending": "enabled", "receiving": "disabled"}},
                    {"id": "5f3c2d3a-65a4-4b0c-8c65-1ad1b0b3e1f2", "name": RESEND_PENDING_DOMAIN,
                     "status": "pending", "created_at": "2024-02-01T10:00:00.000000+00:00",
                     "region": "eu-west-1",
                     "capabilities": {"sending": "enabled", "receiving": "disabled"}}
                ]
            }),
        )
    },
    invalid: || error(403, "invalid_api_key", "API key is invalid"),
    restricted: Some(|| error(401, "restricted_api_key", "This API key is restricted to only send emails")),
    server_error: || error(500, "internal_server_error", "An unexpected error occurred."),
    rate_limited: || error(429, "rate_limit_exceeded", "Too many requests. You can only make 2 requests per second."),
};

pub(super) fn error(status: u16, name: &str, message: &str) -> Response {
    json(status, json!({"statusCode": status, "message": message, "name": name}))
}
