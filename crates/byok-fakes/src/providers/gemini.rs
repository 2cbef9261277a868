//! Gemini `GET /v1beta/models`: the key in `x-goog-api-key` (or `?key=`); errors as
//! Google's `{"error": {"code", "message", "status", "details": [ErrorInfo …]}}`.

use axum::Router;
use axum::extract::RawQuery;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::{Answers, answer, header, json};
use crate::record::decode_form;

pub(crate) fn router() -> Router {
    Router::new().route("/v1beta/models", get(models)).merge(super::gemini_generate::router())
}

/// The key from `x-goog-api-key`, else `?key=`.
pub(crate) fn key(headers: &HeaderMap, query: Option<String>) -> Option<String> {
    let from_query =
        decode_form(query.unwrap_or_default().as_bytes()).into_iter().find(|(k, _)| k == "key").map(|(_, v)| v);
    header(headers, "x-goog-api-key").map(str::to_owned).or(from_query)
}

async fn models(headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let Some(key) = key(&headers, query) else {
        return error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API.",
            "PERMISSION_DENIED",
            None,
        );
    };
    answer("gemini", &key, &ANSWERS).await
}

const ANSWERS: Answers = Answers {
    ok: || {
        json(
            200,
            json!({"models": [{
                "name": "models/gemini-2.5-flash", "version": "001",
                "displayName": "Gemini 2.5 Flash", "inputTokenLimit": 1048576,
                "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent", "countTokens"]
            }], "nextPageToken": "Chdtb2RlbHMvZ2VtaW5pLTIuNS1mbGFzaA=="}),
        )
    },
    invalid: || {
        error(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", Some("API_KEY_INVALID"))
    },
    restricted: Some(|| {
        error(
            403,
            "Requests to this API generativelanguage.googleapis.com method \
             google.ai.generativelanguage.v1beta.ModelService.ListModels are blocked.",
            "PERMISSION_DENIED",
            Some("API_KEY_SERVICE_BLOCKED"),
        )
    }),
    server_error: || error(500, "An internal error has occurred.", "INTERNAL", None),
    rate_limited: || error(429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED", None),
};

pub(crate) fn error(code: u16, message: &str, status: &str, reason: Option<&str>) -> Response {
    let details = match reason {
        Some(reason) => json!([
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
             "domain": "googleapis.com",
             "metadata": {"service": "generativelanguage.googleapis.com"}},
            {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
             "message": message}
        ]),
        None => json!([]),
    };
    json(code, json!({"error": {"code": code, "message": message, "status": status, "details": details}}))
}
