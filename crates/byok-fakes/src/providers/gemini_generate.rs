//! Gemini's model methods the proxy tests drive: `POST /v1{,beta}/models/{model}:generateContent`
//! (a `GenerateContentResponse` with `usageMetadata`), `:streamGenerateContent` (with
//! `?alt=sse` one `data:` event per chunk, otherwise a JSON array of the chunks; each
//! chunk carries the usage so far, the last one the totals) and `:countTokens`
//! (`{"totalTokens"}`, which is not usage). The key goes in `x-goog-api-key` (or
//! `?key=`); answers are fixed bytes.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;

use super::gemini::{error, key};
use super::typed;
use crate::credentials::{Behaviour, behaviour};

pub const GENERATE_CONTENT: &str = r#"{"candidates":[{"content":{"parts":[{"text":"Hello from the fake."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":5,"totalTokenCount":9,"promptTokensDetails":[{"modality":"TEXT","tokenCount":4}]},"modelVersion":"gemini-2.5-flash","responseId":"fake-response-1"}"#;

/// The stream's chunks: the usage so far in each, the totals (4 + 6 = 10) in the last.
pub(crate) const STREAM_CHUNKS: [&str; 2] = [
    r#"{"candidates":[{"content":{"parts":[{"text":"Hello"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":4}]},"modelVersion":"gemini-2.5-flash","responseId":"fake-response-2"}"#,
    r#"{"candidates":[{"content":{"parts":[{"text":" from the fake."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"totalTokenCount":10,"promptTokensDetails":[{"modality":"TEXT","tokenCount":4}]},"modelVersion":"gemini-2.5-flash","responseId":"fake-response-2"}"#,
];

const COUNT_TOKENS: &str = r#"{"totalTokens":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":4}]}"#;

pub(crate) fn router() -> Router {
    // Google serves both API versions; the SDK's default is v1.
    Router::new().route("/v1beta/models/{call}", post(call)).route("/v1/models/{call}", post(call))
}

async fn call(Path(call): Path<String>, headers: HeaderMap, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let Some((_model, method)) = call.split_once(':') else {
        return error(404, "Requested entity was not found.", "NOT_FOUND", None);
    };
    let sse = query.as_deref().unwrap_or("").split('&').any(|p| p == "alt=sse");
    match key(&headers, query) {
        Some(k) if behaviour("gemini", &k) == Some(Behaviour::Good) => {}
        Some(_) => {
            return error(
                400,
                "API key not valid. Please pass a valid API key.",
                "INVALID_ARGUMENT",
                Some("API_KEY_INVALID"),
            );
        }
        None => return error(403, "Method doesn't allow unregistered callers.", "PERMISSION_DENIED", None),
    }
    if !serde_json::from_slice::<Value>(&body).is_ok_and(|b| b.get("contents").is_some()) {
        return error(400, "* GenerateContentRequest.contents: contents is not specified", "INVALID_ARGUMENT", None);
    }
    match method {
        "generateContent" => typed(200, "application/json; charset=UTF-8", GENERATE_CONTENT.to_owned()),
        "countTokens" => typed(200, "application/json; charset=UTF-8", COUNT_TOKENS.to_owned()),
        "streamGenerateContent" if sse => {
            let events: String = STREAM_CHUNKS.iter().map(|c| format!("data: {c}\r\n\r\n")).collect();
            typed(200, "text/event-stream", events)
        }
        "streamGenerateContent" => {
            typed(200, "application/json; charset=UTF-8", format!("[{}]", STREAM_CHUNKS.join(",\r\n")))
        }
        _ => error(404, "Requested entity was not found.", "NOT_FOUND", None),
    }
}
