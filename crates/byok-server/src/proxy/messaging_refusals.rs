//! byok's refusals in the error shapes of Twilio and Resend, so their SDKs raise the
//! classes products catch: Twilio's `TwilioRestException` with a Twilio error code,
//! Resend's exception for the documented `(statusCode, name)` pair. byok's own code
//! rides along where the shape leaves room for it.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::refusal::Refusal;

/// `{"code", "message", "more_info", "status"}`, Twilio's REST error, with byok's code
/// in `details`. No `type` and `title`: with those the SDK would take the answer for
/// an RFC 9457 problem and raise `TwilioServiceException` instead.
pub(super) fn twilio(status: StatusCode, code: &str, message: &str) -> Value {
    // Twilio's error dictionary: 20003 authenticate, 20403 forbidden, 20404 not found,
    // 20429 too many requests, 20500 internal error, 20503 unavailable; 20001 (unknown
    // parameters) for a request byok will not forward as it is.
    let twilio_code = match status.as_u16() {
        401 => 20003,
        403 => 20403,
        404 => 20404,
        429 => 20429,
        503 => 20503,
        500..=599 => 20500,
        _ => 20001,
    };
    json!({
        "code": twilio_code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{twilio_code}"),
        "status": status.as_u16(),
        "details": {"byok_code": code},
    })
}

/// `{"statusCode", "name", "message"}` with the status and name Resend documents for
/// the same failure (a missing key 401 `missing_api_key`, an unknown one 403
/// `invalid_api_key`, a key that may not do this 401 `restricted_api_key`, a monthly
/// limit 429 `monthly_quota_exceeded`, a per-minute one 429 `rate_limit_exceeded`), and
/// byok's code beside them.
pub(super) fn resend(refusal: &Refusal, status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    let (status, name) = match refusal {
        Refusal::MissingKey => (StatusCode::UNAUTHORIZED, "missing_api_key"),
        Refusal::InvalidKey | Refusal::WrongRole | Refusal::ProviderNotAllowed(_) => {
            (StatusCode::FORBIDDEN, "invalid_api_key")
        }
        Refusal::PathNotAllowed(_) => (StatusCode::UNAUTHORIZED, "restricted_api_key"),
        Refusal::KeyQuotaExhausted(_) | Refusal::KeyTokensExhausted(_) | Refusal::QuotaExhausted(_) => {
            (status, "monthly_quota_exceeded")
        }
        Refusal::RateLimited { .. } => (status, "rate_limit_exceeded"),
        _ => match status.as_u16() {
            404 => (status, "not_found"),
            500..=599 => (status, "application_error"),
            _ => (status, "validation_error"),
        },
    };
    (status, json!({"statusCode": status.as_u16(), "name": name, "message": message, "code": code}))
}
