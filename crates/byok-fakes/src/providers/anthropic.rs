//! Anthropic `GET /v1/models`: `x-api-key` and the required `anthropic-version`
//! header; errors as `{"type": "error", "error": {"type", "message"}}`.

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::{Answers, answer, header, json};

pub(crate) fn router() -> Router {
    Router::new().route("/v1/models", get(models))
}

async fn models(headers: HeaderMap) -> Response {
    let Some(key) = header(&headers, "x-api-key") else {
        return error(401, "authentication_error", "x-api-key header is required");
    };
    if header(&headers, "anthropic-version").is_none() {
        return error(400, "invalid_request_error", "anthropic-version: header is required");
    }
    answer("anthropic", key, &ANSWERS).await
}

const ANSWERS: Answers = Answers {
    ok: || {
        json(
            200,
            json!({
                "data": [{"type": "model", "id": "claude-sonnet-4-5-20250929",
                          "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"}],
                "has_more": true,
                "first_id": "claude-sonnet-4-5-20250929",
                "last_id": "claude-sonnet-4-5-20250929"
            }),
        )
    },
    invalid: || error(401, "authentication_error", "invalid x-api-key"),
    restricted: Some(|| {
        error(403, "permission_error", "Your API key does not have permission to use the specified resource.")
    }),
    server_error: || error(500, "api_error", "Internal server error"),
    rate_limited: || error(429, "rate_limit_error", "Number of requests has exceeded your rate limit."),
};

fn error(status: u16, kind: &str, message: &str) -> Response {
    json(
        status,
        json!({"type": "error", "error": {"type": kind, "message": message},
               "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}),
    )
}
