//! Stability AI `GET /v1/user/account`: `Authorization: Bearer`; errors as
//! `{"id", "name", "message"}`.

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::{Answers, answer, bearer, json};

pub(crate) fn router() -> Router {
    Router::new().route("/v1/user/account", get(account)).merge(super::stability_generate::router())
}

async fn account(headers: HeaderMap) -> Response {
    let Some(key) = bearer(&headers) else {
        return error(401, "unauthorized", "missing authorization header");
    };
    answer("stability", key, &ANSWERS).await
}

const ANSWERS: Answers = Answers {
    ok: || {
        json(
            200,
            json!({
                "email": "example@stability.ai",
                "id": "user-1234",
                "organizations": [{"id": "org-5678", "name": "Example", "role": "MEMBER",
                                   "is_default": true}],
                "profile_picture": "https://api.stability.ai/example.png"
            }),
        )
    },
    invalid: || error(401, "unauthorized", "invalid api key"),
    restricted: None,
    server_error: || error(500, "internal_error", "An unexpected server error has occurred"),
    rate_limited: || error(429, "rate_limit_exceeded", "You have exceeded the rate limit"),
};

fn error(status: u16, name: &str, message: &str) -> Response {
    json(status, json!({"id": "9160aa70222f5d6f4d36bf3d6f5e8e7d", "name": name, "message": message}))
}
