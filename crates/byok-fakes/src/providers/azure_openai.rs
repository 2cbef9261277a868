//! Azure OpenAI on a resource, as its REST reference documents it:
//! `POST /openai/deployments/{deployment}/chat/completions?api-version=…`, authenticated
//! by the resource's key in `api-key` or a Microsoft Entra token (one the fake Entra
//! endpoint issued) in `Authorization: Bearer`. Answers are OpenAI's shapes with Azure's
//! content-filter results; errors `{"error": {"code", "message"}}`.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::llm::{json_text, sse};
use super::{bearer, header, json};

/// The resource key the fake accepts (Azure's keys are 32 hex digits).
pub const AZURE_OPENAI_KEY: &str = "f4e0a1b2c3d4e5f60718293a4b5c6d7e";

/// Entra tokens the fake issued for Azure OpenAI's scope.
static ISSUED: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Mutex::default);

/// Files a token the fake Entra endpoint issued for `scope`: good for Azure OpenAI when
/// the scope is Cognitive Services'.
pub(super) fn issued(token: &str, scope: &str) {
    if scope.split(' ').any(|s| s == "https://cognitiveservices.azure.com/.default") {
        ISSUED.lock().unwrap_or_else(PoisonError::into_inner).insert(token.to_owned());
    }
}

const COMPLETION: &str = r#"{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}},"finish_reason":"stop","index":0,"logprobs":null,"message":{"content":"Hello from the fake.","refusal":null,"role":"assistant"}}],"created":1730241104,"id":"chatcmpl-azure-fake","model":"gpt-4o-mini-2024-07-18","object":"chat.completion","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}],"system_fingerprint":"fp_fake","usage":{"completion_tokens":5,"prompt_tokens":9,"total_tokens":14}}"#;

const CHUNKS: [&str; 4] = [
    "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n",
    "data: {\"choices\":[{\"content_filter_results\":{},\"delta\":{\"content\":\"\",\"refusal\":null,\"role\":\"assistant\"},\"finish_reason\":null,\"index\":0,\"logprobs\":null}],\"created\":1730241104,\"id\":\"chatcmpl-azure-fake\",\"model\":\"gpt-4o-mini-2024-07-18\",\"object\":\"chat.completion.chunk\",\"system_fingerprint\":\"fp_fake\"}\n\n",
    "data: {\"choices\":[{\"content_filter_results\":{},\"delta\":{\"content\":\"Hello from the fake.\"},\"finish_reason\":null,\"index\":0,\"logprobs\":null}],\"created\":1730241104,\"id\":\"chatcmpl-azure-fake\",\"model\":\"gpt-4o-mini-2024-07-18\",\"object\":\"chat.completion.chunk\",\"system_fingerprint\":\"fp_fake\"}\n\n",
    "data: {\"choices\":[{\"content_filter_results\":{},\"delta\":{},\"finish_reason\":\"stop\",\"index\":0,\"logprobs\":null}],\"created\":1730241104,\"id\":\"chatcmpl-azure-fake\",\"model\":\"gpt-4o-mini-2024-07-18\",\"object\":\"chat.completion.chunk\",\"system_fingerprint\":\"fp_fake\"}\n\n",
];
const USAGE_CHUNK: &str = "data: {\"choices\":[],\"created\":1730241104,\"id\":\"chatcmpl-azure-fake\",\"model\":\"gpt-4o-mini-2024-07-18\",\"object\":\"chat.completion.chunk\",\"system_fingerprint\":\"fp_fake\",\"usage\":{\"completion_tokens\":5,\"prompt_tokens\":9,\"total_tokens\":14}}\n\n";

pub(crate) fn router() -> Router {
    Router::new().route("/openai/deployments/{deployment}/chat/completions", post(chat))
}

/// Whether the request carries the resource's key or a token issued for it.
fn authorized(headers: &HeaderMap) -> bool {
    if let Some(key) = header(headers, "api-key") {
        return key == AZURE_OPENAI_KEY;
    }
    bearer(headers).is_some_and(|token| ISSUED.lock().unwrap_or_else(PoisonError::into_inner).contains(token))
}

async fn chat(Path(_deployment): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers) {
        return error(
            401,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid \
             key for an active subscription and use a correct regional API endpoint for your resource.",
        );
    }
    let versioned =
        query.as_deref().is_some_and(|q| q.split('&').any(|p| p.starts_with("api-version=") && p.len() > 12));
    if !versioned {
        return error(404, "404", "Resource not found");
    }
    let Some(request) = serde_json::from_slice::<Value>(&body).ok().filter(|b| b.get("messages").is_some()) else {
        return error(400, "BadRequest", "'messages' is a required property");
    };
    if request["stream"] != json!(true) {
        return json_text(COMPLETION);
    }
    let mut chunks = CHUNKS.to_vec();
    if request["stream_options"]["include_usage"] == json!(true) {
        chunks.push(USAGE_CHUNK);
    }
    chunks.push("data: [DONE]\n\n");
    sse(chunks, "")
}

fn error(status: u16, code: &str, message: &str) -> Response {
    json(status, json!({"error": {"code": code, "message": message}}))
}
