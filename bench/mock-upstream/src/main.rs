//! A fast OpenAI-compatible upstream for `bench/proxy.sh`: `GET /v1/models`, and
//! `POST /v1/chat/completions` answering JSON, or an SSE stream (with a final usage
//! chunk) when the body asks for `"stream": true`. Any key is accepted.
//!
//! Usage: `mock-upstream 127.0.0.1:18081`

use std::convert::Infallible;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;

const MODELS: &str =
    r#"{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"}]}"#;
const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1721172741,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the mock."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}"#;
const CHUNKS: [&str; 5] = [
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1721172741,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1721172741,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" from the mock.\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1721172741,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1721172741,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":5,\"total_tokens\":14}}\n\n",
    "data: [DONE]\n\n",
];

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let app = Router::new().route("/v1/models", get(models)).route("/v1/chat/completions", post(chat));
    let listener = tokio::net::TcpListener::bind(&addr).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    eprintln!("mock-upstream listening on http://{addr}");
    axum::serve(listener, app).await
}

async fn models() -> Response {
    json(MODELS)
}

async fn chat(body: Bytes) -> Response {
    let wants_stream = body.windows(14).any(|w| w == b"\"stream\":true," || w == b"\"stream\": true")
        || body.windows(13).any(|w| w == b"\"stream\":true");
    if !wants_stream {
        return json(COMPLETION);
    }
    let chunks = CHUNKS.iter().map(|c| Ok::<_, Infallible>(Bytes::from_static(c.as_bytes())));
    let mut response = Body::from_stream(futures::stream::iter(chunks)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response
}

fn json(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}
