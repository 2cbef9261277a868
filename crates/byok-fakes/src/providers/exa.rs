//! Exa `POST /search`: `x-api-key` (or `Authorization: Bearer`) and a JSON body with
//! a `query`; errors as `{"requestId", "error", "tag"}`.

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::{Answers, answer, bearer, header, json};

pub(crate) fn router() -> Router {
    Router::new().route("/search", post(search))
}

async fn search(headers: HeaderMap, body: Bytes) -> Response {
    let Some(key) = header(&headers, "x-api-key").or_else(|| bearer(&headers)) else {
        return error(401, "API key must be provided", "INVALID_API_KEY");
    };
    let query = serde_json::from_slice::<Value>(&body).ok().and_then(|b| b.get("query")?.as_str().map(str::to_owned));
    if query.is_none() {
        return error(400, "Invalid request body: query is required", "INVALID_REQUEST_BODY");
    }
    answer("exa", key, &ANSWERS).await
}

const ANSWERS: Answers = Answers {
    ok: || {
        json(
            200,
            json!({
                "requestId": "b5947044c4b78efa9552a7c89b306d95",
                "results": [{"title": "Example", "url": "https://example.com/",
                             "id": "https://example.com/", "publishedDate": null,
                             "author": null}],
                "searchType": "auto",
                "costDollars": {"total": 0.005}
            }),
        )
    },
    invalid: || error(401, "Invalid API key", "INVALID_API_KEY"),
    restricted: Some(|| error(402, "You have run out of credits", "NO_MORE_CREDITS")),
    server_error: || error(500, "Internal server error", "INTERNAL_ERROR"),
    rate_limited: || error(429, "Rate limit exceeded", "RATE_LIMIT_EXCEEDED"),
};

fn error(status: u16, message: &str, tag: &str) -> Response {
    json(status, json!({"requestId": "b5947044c4b78efa9552a7c89b306d95", "error": message, "tag": tag}))
}
