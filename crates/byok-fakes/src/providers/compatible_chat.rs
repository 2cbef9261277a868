//! Chat completions of the OpenAI-compatible providers, as each documents them: Groq
//! `POST /openai/v1/chat/completions` (usage with Groq's timings; a stream's last
//! content chunk carries `x_groq.usage`, and a final `usage` chunk follows when
//! `stream_options.include_usage` asks) and OpenRouter `POST /api/v1/chat/completions`
//! (`provider` and `native_finish_reason` in each answer, `: OPENROUTER PROCESSING`
//! comments in a stream, usage in its last chunk). `Authorization: Bearer`.

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::llm::{json_text, sse};
use super::{bearer, json};
use crate::credentials::{Behaviour, behaviour};

const GROQ_COMPLETION: &str = r#"{"id":"chatcmpl-groq-fake","object":"chat.completion","created":1730241104,"model":"llama-3.1-8b-instant","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the fake."},"logprobs":null,"finish_reason":"stop"}],"usage":{"queue_time":0.037,"prompt_tokens":18,"prompt_time":0.000680,"completion_tokens":6,"completion_time":0.0045,"total_tokens":24,"total_time":0.0052},"system_fingerprint":"fp_179b0f92c9","x_groq":{"id":"req_01jbd6g2qdfw2adyrt2az8hz4w"}}"#;

const GROQ_CHUNKS: [&str; 3] = [
    "data: {\"id\":\"chatcmpl-groq-fake\",\"object\":\"chat.completion.chunk\",\"created\":1730241104,\"model\":\"llama-3.1-8b-instant\",\"system_fingerprint\":\"fp_179b0f92c9\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}],\"x_groq\":{\"id\":\"req_01jbd6g2qdfw2adyrt2az8hz4w\"}}\n\n",
    "data: {\"id\":\"chatcmpl-groq-fake\",\"object\":\"chat.completion.chunk\",\"created\":1730241104,\"model\":\"llama-3.1-8b-instant\",\"system_fingerprint\":\"fp_179b0f92c9\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello from the fake.\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-groq-fake\",\"object\":\"chat.completion.chunk\",\"created\":1730241104,\"model\":\"llama-3.1-8b-instant\",\"system_fingerprint\":\"fp_179b0f92c9\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"x_groq\":{\"id\":\"req_01jbd6g2qdfw2adyrt2az8hz4w\",\"usage\":{\"queue_time\":0.037,\"prompt_tokens\":18,\"prompt_time\":0.000680,\"completion_tokens\":6,\"completion_time\":0.0045,\"total_tokens\":24,\"total_time\":0.0052}}}\n\n",
];
const GROQ_USAGE_CHUNK: &str = "data: {\"id\":\"chatcmpl-groq-fake\",\"object\":\"chat.completion.chunk\",\"created\":1730241104,\"model\":\"llama-3.1-8b-instant\",\"system_fingerprint\":\"fp_179b0f92c9\",\"choices\":[],\"usage\":{\"queue_time\":0.037,\"prompt_tokens\":18,\"prompt_time\":0.000680,\"completion_tokens\":6,\"completion_time\":0.0045,\"total_tokens\":24,\"total_time\":0.0052}}\n\n";

const OPENROUTER_COMPLETION: &str = r#"{"id":"gen-1730241104-fake","provider":"OpenAI","model":"openai/gpt-4o-mini","object":"chat.completion","created":1730241104,"choices":[{"logprobs":null,"finish_reason":"stop","native_finish_reason":"stop","index":0,"message":{"role":"assistant","content":"Hello from the fake.","refusal":null,"reasoning":null}}],"system_fingerprint":"fp_fake","usage":{"prompt_tokens":11,"completion_tokens":5,"total_tokens":16,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#;

const OPENROUTER_CHUNKS: [&str; 4] = [
    ": OPENROUTER PROCESSING\n\n",
    "data: {\"id\":\"gen-1730241104-fake\",\"provider\":\"OpenAI\",\"model\":\"openai/gpt-4o-mini\",\"object\":\"chat.completion.chunk\",\"created\":1730241104,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello from the fake.\"},\"finish_reason\":null,\"native_finish_reason\":null,\"logprobs\":null}]}\n\n",
    "data: {\"id\":\"gen-1730241104-fake\",\"provider\":\"OpenAI\",\"model\":\"openai/gpt-4o-mini\",\"object\":\"chat.completion.chunk\",\"created\":1730241104,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":\"stop\",\"native_finish_reason\":\"stop\",\"logprobs\":null}],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":5,\"total_tokens\":16}}\n\n",
    "data: [DONE]\n\n",
];

pub(crate) fn groq() -> Router {
    Router::new().route("/openai/v1/chat/completions", post(groq_chat))
}

pub(crate) fn openrouter() -> Router {
    Router::new().route("/api/v1/chat/completions", post(openrouter_chat))
}

async fn groq_chat(headers: HeaderMap, body: Bytes) -> Response {
    if bearer(&headers).and_then(|key| behaviour("groq", key)) != Some(Behaviour::Good) {
        return json(
            401,
            json!({"error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}}),
        );
    }
    let Some(request) = request(&body) else {
        return json(
            400,
            json!({"error": {"message": "'messages' : property 'messages' is missing", "type": "invalid_request_error"}}),
        );
    };
    if request["stream"] != json!(true) {
        return json_text(GROQ_COMPLETION);
    }
    let mut chunks = GROQ_CHUNKS.to_vec();
    if request["stream_options"]["include_usage"] == json!(true) {
        chunks.push(GROQ_USAGE_CHUNK);
    }
    chunks.push("data: [DONE]\n\n");
    sse(chunks, "")
}

async fn openrouter_chat(headers: HeaderMap, body: Bytes) -> Response {
    if bearer(&headers).and_then(|key| behaviour("openrouter", key)) != Some(Behaviour::Good) {
        return json(401, json!({"error": {"message": "User not found.", "code": 401}}));
    }
    let Some(request) = request(&body) else {
        return json(
            400,
            json!({"error": {"message": "Input required: specify \"prompt\" or \"messages\"", "code": 400}}),
        );
    };
    if request["stream"] != json!(true) {
        return json_text(OPENROUTER_COMPLETION);
    }
    sse(OPENROUTER_CHUNKS.to_vec(), "")
}

/// A JSON body with `messages`.
fn request(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(body).ok().filter(|b| b.get("messages").is_some())
}
