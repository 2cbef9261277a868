//! Twilio's Messages resource, as its API reference documents it:
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (a form with `To`, `From` or
//! `MessagingServiceSid`, `Body` or `MediaUrl`) answers 201 with the message resource,
//! `GET …/Messages/{MessageSid}.json` the message as it is now (delivered), and
//! `GET …/Messages.json` a page of the list. Messages are kept for the life of the process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::json;
use super::twilio::{authenticate, error};
use crate::credentials::{Behaviour, TWILIO_SMS_NUMBER};
use crate::record::decode_form;

/// Sent messages by SID, for every fake in the process (SIDs never repeat).
static SENT: LazyLock<Mutex<HashMap<String, Value>>> = LazyLock::new(Mutex::default);
static NEXT: AtomicU64 = AtomicU64::new(1);

const DATE: &str = "Mon, 30 Nov 2026 12:00:00 +0000";

pub(crate) fn router() -> Router {
    Router::new()
        .route("/2010-04-01/Accounts/{account}/Messages.json", get(list).post(create))
        .route("/2010-04-01/Accounts/{account}/Messages/{message}", get(fetch))
}

async fn allowed(headers: &HeaderMap, account: &str) -> Result<(), Response> {
    match authenticate(headers, account).await? {
        Behaviour::Restricted => Err(error(401, 20005, "Account not active")),
        _ => Ok(()),
    }
}

async fn create(Path(account): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(answer) = allowed(&headers, &account).await {
        return answer;
    }
    let form: HashMap<String, String> = decode_form(&body).into_iter().collect();
    let field = |name: &str| form.get(name).filter(|v| !v.is_empty()).cloned();
    let Some(to) = field("To") else { return error(400, 21604, "A 'To' phone number is required.") };
    let (from, service) = (field("From"), field("MessagingServiceSid"));
    if from.is_none() && service.is_none() {
        return error(400, 21603, "A 'From' phone number is required.");
    }
    if let Some(from) = from.as_deref().filter(|f| *f != TWILIO_SMS_NUMBER) {
        return error(
            400,
            21606,
            &format!(
                "The From phone number {from} is not a valid, SMS-capable inbound phone number or short code for your account."
            ),
        );
    }
    let Some(text) = field("Body").or_else(|| field("MediaUrl").map(|_| String::new())) else {
        return error(400, 21602, "Message body is required.");
    };
    let sid = format!("SM{:032x}", NEXT.fetch_add(1, Ordering::Relaxed));
    let message = json!({
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": text,
        "date_created": DATE,
        "date_sent": null,
        "date_updated": DATE,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": service,
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json")},
        "to": to,
        "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json")
    });
    SENT.lock().unwrap_or_else(PoisonError::into_inner).insert(sid, message.clone());
    json(201, message)
}

/// A sent message, since delivered.
fn delivered(mut message: Value) -> Value {
    message["status"] = json!("delivered");
    message["date_sent"] = json!(DATE);
    message
}

async fn fetch(Path((account, message)): Path<(String, String)>, headers: HeaderMap) -> Response {
    if let Err(answer) = allowed(&headers, &account).await {
        return answer;
    }
    let sid = message.strip_suffix(".json").unwrap_or_default();
    let found = SENT.lock().unwrap_or_else(PoisonError::into_inner).get(sid).cloned();
    match found.filter(|m| m["account_sid"] == account.as_str()) {
        Some(m) => json(200, delivered(m)),
        None => error(
            404,
            20404,
            &format!("The requested resource /2010-04-01/Accounts/{account}/Messages/{message} was not found"),
        ),
    }
}

/// A page of the account's messages in SID order: `PageSize` (default 50) from page
/// `Page` (default 0), with Twilio's `next_page_uri` (which names the real account)
/// while more remain.
async fn list(Path(account): Path<String>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    if let Err(answer) = allowed(&headers, &account).await {
        return answer;
    }
    let param = |name: &str| {
        let query = query.as_deref().unwrap_or_default();
        decode_form(query.as_bytes()).into_iter().find(|(k, _)| k == name).and_then(|(_, v)| v.parse::<usize>().ok())
    };
    let (size, page) = (param("PageSize").unwrap_or(50).clamp(1, 1000), param("Page").unwrap_or(0));
    let mut messages: Vec<Value> = SENT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .values()
        .filter(|m| m["account_sid"] == account.as_str())
        .cloned()
        .map(delivered)
        .collect();
    messages.sort_by(|a, b| a["sid"].as_str().cmp(&b["sid"].as_str()));
    let total = messages.len();
    let start = (page * size).min(total);
    let shown: Vec<Value> = messages.into_iter().skip(start).take(size).collect();
    let uri = format!("/2010-04-01/Accounts/{account}/Messages.json");
    let next = shown.last().filter(|_| start + size < total).map(|last| {
        format!("{uri}?PageSize={size}&Page={}&PageToken=PA{}", page + 1, last["sid"].as_str().unwrap_or_default())
    });
    json(
        200,
        json!({
            "end": (start + shown.len()).saturating_sub(1),
            "first_page_uri": format!("{uri}?PageSize={size}&Page=0"),
            "messages": shown,
            "next_page_uri": next,
            "page": page,
            "page_size": size,
            "previous_page_uri": (page > 0).then(|| format!("{uri}?PageSize={size}&Page={}", page - 1)),
            "start": start,
            "uri": format!("{uri}?PageSize={size}&Page={page}")
        }),
    )
}
