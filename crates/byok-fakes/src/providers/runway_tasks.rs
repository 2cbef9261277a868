//! Runway's generation tasks as its API reference documents them: `POST
//! /v1/image_to_video` starts a task and answers its `id`; `GET /v1/tasks/{id}` reports
//! it `PENDING`, then `RUNNING` with a `progress`, then `SUCCEEDED` with its `output`
//! URLs, one step per poll. Both need `Authorization: Bearer` and `X-Runway-Version`;
//! errors are `{"error": "…"}` (with `issues` for a bad body).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::runway::{API_VERSION, error};
use super::{bearer, header, json};
use crate::credentials::{Behaviour, behaviour};

/// What the fake's tasks ended with: the URL of the generated video.
pub const RUNWAY_OUTPUT: &str = "https://dnznrvs05pmza.cloudfront.net/fake/output.mp4";
const CREATED_AT: &str = "2024-11-06T10:00:00.000Z";

/// Polls each task has had so far, by id.
type Tasks = Arc<Mutex<HashMap<String, u32>>>;

pub(crate) fn router() -> Router {
    Router::new()
        .route("/v1/image_to_video", post(image_to_video))
        .route("/v1/tasks/{id}", get(task))
        .with_state(Tasks::default())
}

/// The error for a request without Runway's version header or a good key.
fn refused(headers: &HeaderMap) -> Option<Response> {
    if header(headers, "x-runway-version") != Some(API_VERSION) {
        return Some(error(400, "Invalid API version specified in X-Runway-Version header."));
    }
    match bearer(headers) {
        None => Some(error(401, "Missing API key.")),
        Some(key) if behaviour("runway", key) != Some(Behaviour::Good) => Some(error(401, "Invalid API key.")),
        Some(_) => None,
    }
}

async fn image_to_video(State(tasks): State<Tasks>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = refused(&headers) {
        return refusal;
    }
    let request = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    for field in ["model", "promptImage", "ratio"] {
        if request.get(field).is_none() {
            return json(
                400,
                json!({"error": "Validation of body failed", "issues": [
                    {"code": "invalid_type", "expected": "string", "received": "undefined",
                     "path": [field], "message": "Required"}]}),
            );
        }
    }
    let mut tasks = tasks.lock().unwrap_or_else(PoisonError::into_inner);
    let id = format!("17f20503-6c24-4c16-946b-{:012x}", tasks.len() + 1);
    tasks.insert(id.clone(), 0);
    json(200, json!({"id": id, "estimatedCost": {"credits": 25}}))
}

async fn task(State(tasks): State<Tasks>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refused(&headers) {
        return refusal;
    }
    let polls = {
        let mut tasks = tasks.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(polls) = tasks.get_mut(&id) else {
            return error(404, "Task not found.");
        };
        *polls += 1;
        *polls
    };
    let answer = match polls {
        1 => json!({"id": id, "status": "PENDING", "createdAt": CREATED_AT, "estimatedCost": {"credits": 25}}),
        2 => json!({"id": id, "status": "RUNNING", "createdAt": CREATED_AT, "progress": 0.5,
                    "estimatedCost": {"credits": 25}}),
        _ => json!({"id": id, "status": "SUCCEEDED", "createdAt": CREATED_AT, "output": [RUNWAY_OUTPUT],
                    "cost": {"credits": 25}}),
    };
    json(200, answer)
}
