//! Runway `GET /v1/organization`: `Authorization: Bearer` and the required
//! `X-Runway-Version` header; errors as `{"error": "…"}`.

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::{Answers, answer, bearer, header, json};

pub(crate) const API_VERSION: &str = "2024-11-06";

pub(crate) fn router() -> Router {
    Router::new().route("/v1/organization", get(organization)).merge(super::runway_tasks::router())
}

async fn organization(headers: HeaderMap) -> Response {
    if header(&headers, "x-runway-version") != Some(API_VERSION) {
        return error(400, "Invalid API version specified in X-Runway-Version header.");
    }
    let Some(key) = bearer(&headers) else {
        return error(401, "Missing API key.");
    };
    answer("runway", key, &ANSWERS).await
}

const ANSWERS: Answers = Answers {
    ok: || {
        json(
            200,
            json!({
                "tier": {"maxMonthlyCreditSpend": 10000, "models": {
                    "gen4_turbo": {"maxConcurrentGenerations": 2, "maxDailyGenerations": 50}}},
                "creditBalance": 1234,
                "usage": {"models": {"gen4_turbo": {"dailyGenerations": 1}}}
            }),
        )
    },
    invalid: || error(401, "Invalid API key."),
    restricted: None,
    server_error: || error(500, "Internal server error."),
    rate_limited: || error(429, "Too many requests."),
};

pub(crate) fn error(status: u16, message: &str) -> Response {
    json(status, json!({"error": message}))
}
