//! Stability AI's `POST /v2beta/stable-image/generate/core` as its API reference
//! documents it: `Authorization: Bearer`, a `multipart/form-data` body with a `prompt`,
//! and `accept: image/*` (the default) for the image's bytes, with `finish-reason` and
//! `seed` headers, or `accept: application/json` for `{"image": base64, "finish_reason",
//! "seed"}`. Errors are `{"id", "name", "errors": ["…"]}`.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use serde_json::json;

use super::{bearer, header as header_value, json};
use crate::credentials::{Behaviour, behaviour};

/// The image every generation answers: a 1×1 PNG, whose bytes (a NUL, CR LF, bytes
/// that are not UTF-8) show any change on the way.
pub const STABILITY_IMAGE: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];
const SEED: &str = "343940597";

pub(crate) fn router() -> Router {
    Router::new().route("/v2beta/stable-image/generate/core", post(generate))
}

async fn generate(headers: HeaderMap, body: Bytes) -> Response {
    match bearer(&headers) {
        None => return error(401, "unauthorized", "missing authorization header"),
        Some(key) if behaviour("stability", key) == Some(Behaviour::RateLimited) => {
            return error(
                429,
                "rate_limit_exceeded",
                "You have exceeded the rate limit of 150 requests within a 10 second period.",
            );
        }
        Some(key) if behaviour("stability", key) != Some(Behaviour::Good) => {
            return error(401, "unauthorized", "invalid api key");
        }
        Some(_) => {}
    }
    let multipart = header_value(&headers, "content-type").is_some_and(|ct| ct.starts_with("multipart/form-data"));
    if !multipart {
        return error(400, "bad_request", "content-type: must be multipart/form-data");
    }
    if !contains(&body, b"name=\"prompt\"") {
        return error(400, "bad_request", "prompt: cannot be empty");
    }
    match header_value(&headers, "accept").unwrap_or("image/*") {
        "image/*" => {
            let mut response = Body::from(STABILITY_IMAGE).into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            h.insert("finish-reason", HeaderValue::from_static("SUCCESS"));
            h.insert("seed", HeaderValue::from_static(SEED));
            response
        }
        "application/json" => json(
            200,
            json!({"image": base64::engine::general_purpose::STANDARD.encode(STABILITY_IMAGE),
                   "finish_reason": "SUCCESS", "seed": SEED.parse::<u64>().unwrap_or(0)}),
        ),
        _ => error(400, "bad_request", "accept: must be one of image/* or application/json"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn error(status: u16, name: &str, message: &str) -> Response {
    json(status, json!({"id": "2a1b9b2f9d6c4e0f8c0e7c1d3b5a7e9f", "name": name, "errors": [message]}))
}
