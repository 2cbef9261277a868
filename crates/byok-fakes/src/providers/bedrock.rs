//! Amazon Bedrock's runtime, as its API reference documents it, on the same origin as
//! the fake STS: `POST /model/{modelId}/converse` (a JSON answer with `usage`) and
//! `POST /model/{modelId}/converse-stream` (an `application/vnd.amazon.eventstream`
//! answer: `messageStart`, `contentBlockDelta`, `contentBlockStop`, `messageStop` and
//! `metadata` with the usage, each a binary event-stream message with CRC32 checksums).
//! Requests must be SigV4-signed for the `bedrock` service with the secret the fake
//! knows for the access key id (the signature is recomputed, path double-encoded as AWS
//! does for every service but S3). Errors are `{"message"}` with `x-amzn-ErrorType`.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::aws::{Authorization, expected_signature};
use super::header as header_value;
use crate::credentials::{Behaviour, behaviour};

pub const BEDROCK_TEXT: &str = "Hello from the fake.";

const CONVERSE: &str = r#"{"metrics":{"latencyMs":120},"output":{"message":{"content":[{"text":"Hello from the fake."}],"role":"assistant"}},"stopReason":"end_turn","usage":{"inputTokens":8,"outputTokens":5,"totalTokens":13}}"#;

pub(crate) fn router() -> Router {
    Router::new()
        .route("/model/{model}/converse", post(converse))
        .route("/model/{model}/converse-stream", post(converse))
}

async fn converse(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = refusal(&method, &uri, &headers, &body) {
        return refused;
    }
    if !serde_json::from_slice::<Value>(&body).is_ok_and(|b| b.get("messages").is_some()) {
        return error(400, "ValidationException", "1 validation error detected: messages must not be null");
    }
    if !uri.path().ends_with("/converse-stream") {
        let mut answer = Body::from(CONVERSE).into_response();
        answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return answer;
    }
    let events: Vec<u8> = [
        ("messageStart", json!({"role": "assistant"})),
        ("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": BEDROCK_TEXT}})),
        ("contentBlockStop", json!({"contentBlockIndex": 0})),
        ("messageStop", json!({"stopReason": "end_turn"})),
        (
            "metadata",
            json!({"usage": {"inputTokens": 8, "outputTokens": 6, "totalTokens": 14}, "metrics": {"latencyMs": 140}}),
        ),
    ]
    .iter()
    .flat_map(|(kind, payload)| event(kind, payload.to_string().as_bytes()))
    .collect();
    let mut answer = Body::from(events).into_response();
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.amazon.eventstream"));
    answer
}

/// Bedrock's refusal of a request whose SigV4 signature does not hold, if it does not.
fn refusal(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    let missing = || error(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    let Some(auth) = header_value(headers, "authorization").and_then(Authorization::parse) else {
        return Some(missing());
    };
    let Some(amz_date) = header_value(headers, "x-amz-date") else { return Some(missing()) };
    if auth.service != "bedrock" || behaviour("aws", &auth.access_key_id) != Some(Behaviour::Good) {
        return Some(error(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    let canonical_uri: String = uri.path().split('/').map(encode).collect::<Vec<_>>().join("/");
    (auth.signature != expected_signature(method, &canonical_uri, headers, body, &auth, amz_date)).then(|| {
        error(
            403,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS \
             Secret Access Key and signing method. Consult the service documentation for details.",
        )
    })
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One event-stream message: prelude (total length, headers length, CRC32 of both),
/// string headers, the payload and the CRC32 of everything before it.
fn event(kind: &str, payload: &[u8]) -> Vec<u8> {
    let mut headers = Vec::new();
    for (name, value) in [(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")] {
        headers.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        headers.extend_from_slice(name.as_bytes());
        headers.push(7);
        headers.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
        headers.extend_from_slice(value.as_bytes());
    }
    let total = 12 + headers.len() + payload.len() + 4;
    let mut message = Vec::with_capacity(total);
    message.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
    message.extend_from_slice(&u32::try_from(headers.len()).unwrap_or(u32::MAX).to_be_bytes());
    let prelude_crc = crc32fast::hash(&message);
    message.extend_from_slice(&prelude_crc.to_be_bytes());
    message.extend_from_slice(&headers);
    message.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&message);
    message.extend_from_slice(&message_crc.to_be_bytes());
    message
}

fn error(status: u16, kind: &'static str, message: &str) -> Response {
    let mut answer = super::json(status, json!({"message": message}));
    answer.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(kind));
    answer
}
