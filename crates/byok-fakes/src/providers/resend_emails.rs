//! Resend's emails, as its API reference documents them: `POST /emails` (200
//! `{"id"}`), `POST /emails/batch` (200 `{"data": [{"id"}…]}`) and `GET /emails/{id}`
//! (the email object). The sender must be on the account's verified domain. Emails are
//! kept for the life of the process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::resend::error;
use super::{bearer, hang, header, json, typed};
use crate::credentials::{Behaviour, RESEND_VERIFIED_DOMAIN, behaviour};

/// Sent emails by id, for every fake in the process (ids never repeat).
static SENT: LazyLock<Mutex<HashMap<String, Value>>> = LazyLock::new(Mutex::default);
static NEXT: AtomicU64 = AtomicU64::new(1);

pub(crate) fn router() -> Router {
    Router::new().route("/emails", post(send)).route("/emails/batch", post(batch)).route("/emails/{id}", get(fetch))
}

/// Sending-only keys may send and read emails; any key the fake does not know is
/// refused as Resend refuses it.
async fn authorised(headers: &HeaderMap) -> Result<(), Response> {
    if header(headers, "user-agent").is_none_or(str::is_empty) {
        return Err(typed(403, "text/plain; charset=UTF-8", "error code: 1010".to_owned()));
    }
    let Some(key) = bearer(headers) else {
        return Err(error(401, "missing_api_key", "Missing API key in the authorization header."));
    };
    match behaviour("resend", key) {
        Some(Behaviour::Good | Behaviour::Restricted) => Ok(()),
        Some(Behaviour::ServerError) => Err(error(500, "internal_server_error", "An unexpected error occurred.")),
        Some(Behaviour::RateLimited) => {
            Err(error(429, "rate_limit_exceeded", "Too many requests. You can only make 2 requests per second."))
        }
        Some(Behaviour::Hang) => Err(hang().await),
        None => Err(error(403, "invalid_api_key", "API key is invalid")),
    }
}

/// What is wrong with a request: Resend's status, error name and message.
struct Rejection(u16, &'static str, String);

impl Rejection {
    fn answer(self) -> Response {
        error(self.0, self.1, &self.2)
    }
}

/// Checks one email; the email as Resend keeps it, or what is wrong with it.
fn accept(email: &Value) -> Result<Value, Rejection> {
    let missing = |field: &str| Rejection(422, "missing_required_field", format!("Missing `{field}` field."));
    let from = email["from"].as_str().filter(|f| !f.is_empty()).ok_or_else(|| missing("from"))?;
    if email["to"].is_null() {
        return Err(missing("to"));
    }
    if email["subject"].is_null() {
        return Err(missing("subject"));
    }
    // `Name <address@domain>` or `address@domain`.
    let address = from.rsplit_once('<').map_or(from, |(_, a)| a.trim_end_matches('>'));
    let domain = address.rsplit_once('@').map(|(_, d)| d.trim()).unwrap_or_default();
    if domain != RESEND_VERIFIED_DOMAIN {
        return Err(Rejection(
            403,
            "validation_error",
            format!(
                "The {domain} domain is not verified. Please, add and verify your domain on https://resend.com/domains"
            ),
        ));
    }
    let id = format!("4ef9a417-02e9-4d39-ad75-{:012x}", NEXT.fetch_add(1, Ordering::Relaxed));
    let to = if email["to"].is_string() { json!([email["to"]]) } else { email["to"].clone() };
    let kept = json!({
        "object": "email",
        "id": id,
        "to": to,
        "from": from,
        "created_at": "2026-11-30 12:00:00.000000+00",
        "subject": email["subject"],
        "html": email["html"],
        "text": email["text"],
        "bcc": email["bcc"],
        "cc": email["cc"],
        "reply_to": email["reply_to"],
        "last_event": "delivered",
        "scheduled_at": null
    });
    Ok(kept)
}

/// Keeps checked emails; their ids.
fn keep(emails: Vec<Value>) -> Vec<Value> {
    let mut sent = SENT.lock().unwrap_or_else(PoisonError::into_inner);
    emails
        .into_iter()
        .map(|email| {
            let id = email["id"].clone();
            sent.insert(id.as_str().unwrap_or_default().to_owned(), email);
            json!({"id": id})
        })
        .collect()
}

fn parsed(body: &[u8]) -> Result<Value, Rejection> {
    serde_json::from_slice(body).map_err(|_| Rejection(400, "validation_error", "Invalid JSON body.".to_owned()))
}

async fn send(headers: HeaderMap, body: Bytes) -> Response {
    if let Err(answer) = authorised(&headers).await {
        return answer;
    }
    match parsed(&body).and_then(|email| accept(&email)) {
        Ok(email) => json(200, keep(vec![email])[0].clone()),
        Err(rejection) => rejection.answer(),
    }
}

async fn batch(headers: HeaderMap, body: Bytes) -> Response {
    if let Err(answer) = authorised(&headers).await {
        return answer;
    }
    let emails = match parsed(&body) {
        Ok(Value::Array(emails)) if (1..=100).contains(&emails.len()) => emails,
        Ok(_) => return error(422, "validation_error", "The batch must be an array of 1 to 100 emails."),
        Err(rejection) => return rejection.answer(),
    };
    // All or none: one invalid email refuses the batch.
    match emails.iter().map(accept).collect::<Result<Vec<Value>, Rejection>>() {
        Ok(checked) => json(200, json!({"data": keep(checked)})),
        Err(rejection) => rejection.answer(),
    }
}

async fn fetch(Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(answer) = authorised(&headers).await {
        return answer;
    }
    match SENT.lock().unwrap_or_else(PoisonError::into_inner).get(&id).cloned() {
        Some(email) => json(200, email),
        None => error(404, "not_found", "Email not found"),
    }
}
