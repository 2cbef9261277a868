//! OpenAI `GET /v1/models` and Groq's OpenAI-compatible `GET /openai/v1/models`:
//! `Authorization: Bearer`, errors as `{"error": {"message", "type", "param", "code"}}`.

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::{Answers, answer, bearer, json};

pub(crate) fn router(provider: &'static str) -> Router {
    if provider == "groq" {
        Router::new().route("/openai/v1/models", get(groq))
    } else {
        Router::new().route("/v1/models", get(openai))
    }
}

async fn openai(headers: HeaderMap) -> Response {
    let Some(key) = bearer(&headers) else {
        return error(
            401,
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error",
            None,
        );
    };
    answer("openai", key, &OPENAI).await
}

const OPENAI: Answers = Answers {
    ok: || {
        json(
            200,
            json!({"object": "list", "data": [
                {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}
            ]}),
        )
    },
    // OpenAI echoes a masked key; byok must not pass it on.
    invalid: || {
        error(
            401,
            "Incorrect API key provided: sk-proj-****************************cdef. You can find \
             your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            Some("invalid_api_key"),
        )
    },
    restricted: Some(|| {
        error(
            401,
            "You have insufficient permissions for this operation. Missing scopes: \
             api.model.read. Check that you have the correct role in your organization \
             (Reader, Writer, Owner) and project (Member, Owner), and if you're using a \
             restricted API key, that it has the necessary scopes.",
            "invalid_request_error",
            None,
        )
    }),
    server_error: || {
        error(500, "The server had an error while processing your request. Sorry about that!", "server_error", None)
    },
    rate_limited: || {
        error(
            429,
            "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1.",
            "requests",
            Some("rate_limit_exceeded"),
        )
    },
};

async fn groq(headers: HeaderMap) -> Response {
    let Some(key) = bearer(&headers) else {
        return error(401, "Invalid API Key", "invalid_request_error", Some("invalid_api_key"));
    };
    answer("groq", key, &GROQ).await
}

const GROQ: Answers = Answers {
    ok: || {
        json(
            200,
            json!({"object": "list", "data": [
                {"id": "llama-3.1-8b-instant", "object": "model", "created": 1693721698,
                 "owned_by": "Meta", "active": true, "context_window": 131072, "public_apps": null}
            ]}),
        )
    },
    invalid: || error(401, "Invalid API Key", "invalid_request_error", Some("invalid_api_key")),
    restricted: None,
    server_error: || error(500, "Internal Server Error", "internal_server_error", None),
    rate_limited: || {
        error(
            429,
            "Rate limit reached for model llama-3.1-8b-instant on requests per minute (RPM).",
            "requests",
            Some("rate_limit_exceeded"),
        )
    },
};

fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Response {
    json(status, json!({"error": {"message": message, "type": kind, "param": null, "code": code}}))
}
