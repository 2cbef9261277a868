//! Vertex AI's model methods, as its REST reference documents them, on the same origin
//! as the fake Google token endpoint:
//! `POST /{version}/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}`
//! with `Authorization: Bearer` (a token the fake endpoint issued for the cloud-platform
//! scope) — `generateContent` (with `usageMetadata`), `streamGenerateContent`
//! (`?alt=sse`), Veo's `predictLongRunning` (a long-running operation's name) and
//! `fetchPredictOperation` (running the first time it is asked, done with the video
//! after). Errors are google.rpc statuses.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::gemini_generate::{GENERATE_CONTENT, STREAM_CHUNKS};
use super::{bearer, json, typed};

/// The project of the fake's service-account key file.
pub const VERTEX_PROJECT: &str = "byok-fake";
/// Where the fake says a generated video is.
pub const VEO_VIDEO_URI: &str = "gs://byok-fake-veo/sample_0.mp4";

/// Access tokens the fake token endpoint issued for the cloud-platform scope.
static ISSUED: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Mutex::default);
/// Veo operations by name, with how many times each was fetched.
static OPERATIONS: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(Mutex::default);
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Files a token the fake token endpoint issued for `scope`.
pub(super) fn issued(token: &str, scope: &str) {
    if scope.split(' ').any(|s| s == "https://www.googleapis.com/auth/cloud-platform") {
        ISSUED.lock().unwrap_or_else(PoisonError::into_inner).insert(token.to_owned());
    }
}

pub(crate) fn router() -> Router {
    Router::new()
        .route("/{version}/projects/{project}/locations/{location}/publishers/google/models/{call}", post(call))
}

async fn call(
    Path((_version, project, location, call)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let known = bearer(&headers).is_some_and(|t| ISSUED.lock().unwrap_or_else(PoisonError::into_inner).contains(t));
    if !known {
        return error(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other \
             valid authentication credential.",
            "UNAUTHENTICATED",
        );
    }
    if project != VERTEX_PROJECT {
        return error(
            403,
            &format!(
                "Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/{project}' (or it may not exist)."
            ),
            "PERMISSION_DENIED",
        );
    }
    let Some((model, method)) = call.split_once(':') else {
        return error(404, "Requested entity was not found.", "NOT_FOUND");
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT");
    };
    match method {
        "generateContent" | "streamGenerateContent" if request.get("contents").is_none() => {
            error(400, "Unable to submit request because it has an empty contents field.", "INVALID_ARGUMENT")
        }
        "generateContent" => typed(200, "application/json; charset=UTF-8", GENERATE_CONTENT.to_owned()),
        "streamGenerateContent" if query.as_deref().is_some_and(|q| q.split('&').any(|p| p == "alt=sse")) => {
            let events: String = STREAM_CHUNKS.iter().map(|c| format!("data: {c}\r\n\r\n")).collect();
            typed(200, "text/event-stream", events)
        }
        "streamGenerateContent" => {
            typed(200, "application/json; charset=UTF-8", format!("[{}]", STREAM_CHUNKS.join(",\r\n")))
        }
        "predictLongRunning" if request.get("instances").is_some() => {
            let name = format!(
                "projects/{project}/locations/{location}/publishers/google/models/{model}/operations/{:08x}-veo",
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            OPERATIONS.lock().unwrap_or_else(PoisonError::into_inner).insert(name.clone(), 0);
            json(200, json!({"name": name}))
        }
        "fetchPredictOperation" => fetch(request["operationName"].as_str().unwrap_or_default()),
        _ => error(400, "Invalid request.", "INVALID_ARGUMENT"),
    }
}

/// A Veo operation: running when first fetched, then done with its video.
fn fetch(name: &str) -> Response {
    let fetched = {
        let mut operations = OPERATIONS.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(count) = operations.get_mut(name) else {
            return error(404, "Operation not found.", "NOT_FOUND");
        };
        *count += 1;
        *count
    };
    if fetched == 1 {
        return json(200, json!({"name": name}));
    }
    json(
        200,
        json!({"name": name, "done": true, "response": {
            "@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse",
            "raiMediaFilteredCount": 0,
            "videos": [{"gcsUri": VEO_VIDEO_URI, "mimeType": "video/mp4"}]
        }}),
    )
}

fn error(status: u16, message: &str, kind: &str) -> Response {
    json(status, json!({"error": {"code": status, "message": message, "status": kind}}))
}
