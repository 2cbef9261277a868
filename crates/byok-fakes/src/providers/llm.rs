//! The generation endpoints the proxy tests drive: OpenAI `POST /v1/chat/completions`
//! (JSON, or SSE with `"stream": true` and a final usage chunk only when
//! `stream_options.include_usage` asks for it) and Anthropic `POST /v1/messages` (JSON,
//! or SSE with usage in `message_start` and `message_delta`). Answers are fixed bytes,
//! so a test can compare them exactly. The model name picks a misbehaviour: `slow`
//! pauses between chunks, `reset` breaks the stream off after its first chunk,
//! `huge-usage` reports more tokens than a 64-bit counter holds.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};

use super::{bearer, header as header_value, json as json_answer};
use crate::credentials::{Behaviour, behaviour};

/// The pause of the `slow` model between chunks.
pub const SLOW_PAUSE: Duration = Duration::from_millis(800);

pub const CHAT_COMPLETION: &str = r#"{"id":"chatcmpl-fake","object":"chat.completion","created":1721172741,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the fake.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}"#;

/// What the `huge-usage` model answers: 2^63 − 1 tokens, each part near 2^64.
const HUGE_USAGE_COMPLETION: &str = r#"{"id":"chatcmpl-fake","object":"chat.completion","created":1721172741,"model":"huge-usage","choices":[],"usage":{"prompt_tokens":18446744073709551615,"completion_tokens":18446744073709551615,"total_tokens":9223372036854775807}}"#;

const CHAT_CHUNKS: [&str; 3] = [
    "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":1721172741,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":1721172741,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" from the fake.\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":1721172741,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n",
];
const CHAT_USAGE_CHUNK: &str = "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":1721172741,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":5,\"total_tokens\":14}}\n\n";
const DONE: &str = "data: [DONE]\n\n";

pub const MESSAGE: &str = r#"{"id":"msg_fake","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hello from the fake."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":7}}"#;

const MESSAGE_EVENTS: [&str; 6] = [
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_fake\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello from the fake.\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
];

/// `POST /v1/chat/completions`.
pub(crate) async fn chat(headers: HeaderMap, body: Bytes) -> Response {
    match bearer(&headers).and_then(|key| behaviour("openai", key)) {
        Some(Behaviour::Good) => {}
        Some(Behaviour::RateLimited) => {
            let message = "Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): \
                 Limit 3, Used 3, Requested 1. Please try again in 20s.";
            return openai_error(429, message, "requests", Some("rate_limit_exceeded"));
        }
        Some(Behaviour::ServerError) => {
            let message = "The server had an error while processing your request. Sorry about that!";
            return openai_error(500, message, "server_error", None);
        }
        _ => return openai_error(401, "Incorrect API key provided.", "invalid_request_error", Some("invalid_api_key")),
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return openai_error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None);
    };
    if request["model"] == "huge-usage" {
        return json_text(HUGE_USAGE_COMPLETION);
    }
    if request["stream"] != json!(true) {
        // OpenAI's edge (Cloudflare) sets its bot-management cookie on answers.
        let mut response = json_text(CHAT_COMPLETION);
        response.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "__cf_bm=fake.cookie-1764633600-1.0.1.1; path=/; domain=.api.openai.com; HttpOnly; Secure; SameSite=None",
            ),
        );
        return response;
    }
    let mut chunks: Vec<&'static str> = CHAT_CHUNKS.to_vec();
    if request["stream_options"]["include_usage"] == json!(true) {
        chunks.push(CHAT_USAGE_CHUNK);
    }
    chunks.push(DONE);
    sse(chunks, request["model"].as_str().unwrap_or(""))
}

/// `POST /v1/messages`.
pub(crate) async fn messages(headers: HeaderMap, body: Bytes) -> Response {
    if header_value(&headers, "x-api-key").and_then(|key| behaviour("anthropic", key)) != Some(Behaviour::Good) {
        return anthropic_error(401, "authentication_error", "invalid x-api-key");
    }
    if header_value(&headers, "anthropic-version").is_none() {
        return anthropic_error(400, "invalid_request_error", "anthropic-version: header is required");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return anthropic_error(400, "invalid_request_error", "The request body is not valid JSON.");
    };
    if request["stream"] != json!(true) {
        return json_text(MESSAGE);
    }
    sse(MESSAGE_EVENTS.to_vec(), request["model"].as_str().unwrap_or(""))
}

/// The chunks as an SSE stream, each its own write, misbehaving as `model` says.
pub(crate) fn sse(chunks: Vec<&'static str>, model: &str) -> Response {
    let pause = (model == "slow").then_some(SLOW_PAUSE);
    let reset = model == "reset";
    let stream = futures::stream::iter(chunks.into_iter().enumerate()).then(move |(i, chunk)| async move {
        if i > 0
            && let Some(pause) = pause
        {
            tokio::time::sleep(pause).await;
        }
        if i > 0 && reset {
            // Long enough for the first chunk to leave, then the connection breaks.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fake reset"));
        }
        Ok::<_, std::io::Error>(Bytes::from_static(chunk.as_bytes()))
    });
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub(crate) fn json_text(body: &'static str) -> Response {
    let mut response = Body::from(body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn openai_error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Response {
    json_answer(status, json!({"error": {"message": message, "type": kind, "param": null, "code": code}}))
}

fn anthropic_error(status: u16, kind: &str, message: &str) -> Response {
    json_answer(status, json!({"type": "error", "error": {"type": kind, "message": message}}))
}
