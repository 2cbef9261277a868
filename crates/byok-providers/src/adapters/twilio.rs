//! Twilio: the account request from the catalog, then, when a sending number is
//! configured, whether it is one of the account's numbers and can send SMS
//! (`IncomingPhoneNumbers.json?PhoneNumber=…`, `capabilities.sms`).

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;

use super::{Adapter, generic};
use crate::probe::{ProbeContext, Verdict};

const NUMBERS_PATH: &str = "/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers.json";

pub(crate) struct TwilioPhoneNumber;

#[async_trait]
impl Adapter for TwilioPhoneNumber {
    async fn probe(&self, cx: &ProbeContext<'_>) -> Verdict {
        check(cx).await.unwrap_or_else(|verdict| verdict)
    }
}

async fn check(cx: &ProbeContext<'_>) -> Result<Verdict, Verdict> {
    let name = cx.name();
    let account = generic::send(cx).await?;
    if !account.is_success() {
        return Ok(generic::classify(cx, &account));
    }
    let status = account.json().and_then(|a| a.get("status")?.as_str().map(str::to_owned));
    if let Some(status) = status.filter(|s| s != "active") {
        return Ok(Verdict::restricted(format!(
            "{name} accepted the credentials, but the account is {}.",
            plain_word(&status)
        )));
    }
    let Some(number) = cx.config("phone_number") else {
        return Ok(Verdict::connected(format!("{name} accepted the credentials.")));
    };
    let mut url = cx.url(NUMBERS_PATH)?;
    url.query_pairs_mut().append_pair("PhoneNumber", number);
    let numbers = cx.send(cx.authorized(Method::GET, url)?).await?;
    if !numbers.is_success() {
        return Ok(generic::classify(cx, &numbers));
    }
    let listed = numbers.json().and_then(|list| {
        list.get("incoming_phone_numbers")?
            .as_array()?
            .iter()
            .find(|n| n.get("phone_number").and_then(Value::as_str) == Some(number))
            .cloned()
    });
    let Some(listed) = listed else {
        return Ok(Verdict::restricted(format!(
            "{name} accepted the credentials, but {number} is not a phone number of this account."
        )));
    };
    let sms = listed.pointer("/capabilities/sms").and_then(Value::as_bool);
    Ok(if sms == Some(true) {
        Verdict::connected(format!("{name} accepted the credentials, and {number} can send SMS."))
    } else {
        Verdict::restricted(format!("{name} accepted the credentials, but {number} cannot send SMS."))
    })
}

/// An account status as Twilio spells it (`suspended`, `closed`), or a neutral word.
fn plain_word(status: &str) -> &str {
    if !status.is_empty() && status.chars().all(|c| c.is_ascii_lowercase()) { status } else { "not active" }
}
