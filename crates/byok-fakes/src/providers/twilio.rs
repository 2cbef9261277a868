//! Twilio `GET /2010-04-01/Accounts/{AccountSid}.json`,
//! `GET /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json?PhoneNumber=…` and
//! the messages of the account (see [`super::twilio_messages`]): HTTP basic auth
//! (account SID, auth token), which must name the account of the path; errors as
//! `{"code", "message", "more_info", "status"}`.

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
use axum::response::Response;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{hang, header, json};
use crate::credentials::{Behaviour, TWILIO_ACCOUNT_SID, TWILIO_SMS_NUMBER, TWILIO_VOICE_ONLY_NUMBER, behaviour};
use crate::record::decode_form;

pub(crate) fn router() -> Router {
    Router::new()
        .route("/2010-04-01/Accounts/{account}", get(account))
        .route("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json", get(numbers))
        .merge(super::twilio_messages::router())
}

/// How the account the basic credentials belong to behaves, or the answer Twilio gives
/// instead: 401 for credentials it does not know, 404 for a path naming an account
/// other than theirs.
pub(super) async fn authenticate(headers: &HeaderMap, path_sid: &str) -> Result<Behaviour, Response> {
    let credentials = header(headers, "authorization")
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let known = credentials.as_deref().and_then(|c| {
        let (sid, token) = c.split_once(':')?;
        (sid == TWILIO_ACCOUNT_SID).then(|| behaviour("twilio", token)).flatten()
    });
    if known.is_some() && path_sid != TWILIO_ACCOUNT_SID {
        return Err(error(
            404,
            20404,
            &format!("The requested resource /2010-04-01/Accounts/{path_sid} was not found"),
        ));
    }
    match known {
        None => Err(error(401, 20003, "Authenticate")),
        Some(Behaviour::ServerError) => Err(error(500, 20500, "Internal Server Error")),
        Some(Behaviour::RateLimited) => Err(error(429, 20429, "Too Many Requests")),
        Some(Behaviour::Hang) => Err(hang().await),
        Some(known) => Ok(known),
    }
}

async fn account(Path(account): Path<String>, headers: HeaderMap) -> Response {
    let Some(sid) = account.strip_suffix(".json") else {
        return error(404, 20404, "The requested resource was not found");
    };
    let behaviour = match authenticate(&headers, sid).await {
        Ok(b) => b,
        Err(answer) => return answer,
    };
    let status = if behaviour == Behaviour::Restricted { "suspended" } else { "active" };
    json(
        200,
        json!({
            "auth_token": "[Redacted]",
            "date_created": "Thu, 30 Jul 2015 20:00:00 +0000",
            "date_updated": "Thu, 30 Jul 2015 20:00:00 +0000",
            "friendly_name": "byok fake account",
            "owner_account_sid": sid,
            "sid": sid,
            "status": status,
            "subresource_uris": {
                "incoming_phone_numbers": format!("/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json")
            },
            "type": "Full",
            "uri": format!("/2010-04-01/Accounts/{sid}.json")
        }),
    )
}

async fn numbers(Path(sid): Path<String>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    if let Err(answer) = authenticate(&headers, &sid).await {
        return answer;
    }
    let wanted =
        decode_form(query.unwrap_or_default().as_bytes()).into_iter().find(|(k, _)| k == "PhoneNumber").map(|(_, v)| v);
    let owned = [(TWILIO_SMS_NUMBER, true), (TWILIO_VOICE_ONLY_NUMBER, false)];
    let list: Vec<Value> = owned
        .iter()
        .filter(|(number, _)| wanted.as_deref().is_none_or(|w| w == *number))
        .map(|(number, sms)| {
            json!({
                "account_sid": sid,
                "phone_number": number,
                "friendly_name": number,
                "sid": "PNfa4efa4efa4efa4efa4efa4efa4efa4e",
                "capabilities": {"voice": true, "sms": sms, "mms": sms, "fax": false},
                "status": "in-use"
            })
        })
        .collect();
    let uri = format!("/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json");
    json(
        200,
        json!({
            "incoming_phone_numbers": list,
            "end": list.len().saturating_sub(1),
            "first_page_uri": format!("{uri}?PageSize=50&Page=0"),
            "next_page_uri": null,
            "page": 0,
            "page_size": 50,
            "previous_page_uri": null,
            "start": 0,
            "uri": uri
        }),
    )
}

pub(super) fn error(status: u16, code: u32, message: &str) -> Response {
    let mut response = json(
        status,
        json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status
        }),
    );
    if status == 401 {
        response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Twilio API\""));
    }
    response
}
