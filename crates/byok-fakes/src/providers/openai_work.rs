//! OpenAI's responses and embeddings endpoints as its API reference documents them:
//! `POST /v1/responses` (a `response` object whose `usage` has `input_tokens`,
//! `output_tokens` and `total_tokens`) and `POST /v1/embeddings` (floats, or with
//! `"encoding_format": "base64"`, which the Python SDK asks for, little-endian float32s
//! in base64; `usage` with `prompt_tokens` and `total_tokens`). `Authorization: Bearer`.

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use base64::Engine;
use serde_json::{Value, json};

use super::llm::json_text;
use super::{bearer, json};
use crate::credentials::{Behaviour, behaviour};

const RESPONSE: &str = r#"{"id":"resp_fake","object":"response","created_at":1741476542,"status":"completed","error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":"gpt-4o-mini-2024-07-18","output":[{"type":"message","id":"msg_fake","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello from the fake.","annotations":[]}]}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":true,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":0},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":17},"user":null,"metadata":{}}"#;

/// The one embedding every input gets.
const EMBEDDING: [f32; 3] = [0.5, -0.25, 0.125];

pub(crate) fn router() -> Router {
    Router::new().route("/v1/responses", post(responses)).route("/v1/embeddings", post(embeddings))
}

/// OpenAI's error for a request without a good key.
fn unauthorized(headers: &HeaderMap) -> Option<Response> {
    (bearer(headers).and_then(|key| behaviour("openai", key)) != Some(Behaviour::Good))
        .then(|| error(401, "Incorrect API key provided.", Some("invalid_api_key")))
}

/// The JSON body when it has an `input`.
fn with_input(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(body).ok().filter(|r| r.get("input").is_some())
}

async fn responses(headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = unauthorized(&headers) {
        return refusal;
    }
    match with_input(&body) {
        Some(_) => json_text(RESPONSE),
        None => error(400, "Missing required parameter: 'input'.", Some("missing_required_parameter")),
    }
}

async fn embeddings(headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = unauthorized(&headers) {
        return refusal;
    }
    let Some(r) = with_input(&body) else {
        return error(400, "'input' is a required property", None);
    };
    let embedding = if r["encoding_format"] == "base64" {
        let bytes: Vec<u8> = EMBEDDING.iter().flat_map(|f| f.to_le_bytes()).collect();
        json!(base64::engine::general_purpose::STANDARD.encode(bytes))
    } else {
        json!(EMBEDDING)
    };
    json(
        200,
        json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": embedding}],
               "model": "text-embedding-3-small", "usage": {"prompt_tokens": 3, "total_tokens": 3}}),
    )
}

fn error(status: u16, message: &str, code: Option<&str>) -> Response {
    json(status, json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}}))
}
