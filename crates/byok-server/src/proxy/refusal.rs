//! The one place where the proxy's own refusals become answers. An SDK pointed at
//! byok must raise its usual error type, so a refusal takes the shape and status its
//! provider uses (OpenAI, Anthropic, Gemini's google.rpc status, Runway, Stability,
//! Exa, Twilio, Resend), with byok's stable `code` inside; other providers get byok's
//! problem+json. Upstream answers never pass through here: they go back unchanged.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use byok_core::{Dialect, ProviderId};
use serde_json::{Value, json};

use super::messaging_refusals;
use crate::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no API key was given: pass a byok virtual key where the provider's SDK puts its key")]
    MissingKey,
    #[error("the API key is not an active byok virtual key")]
    InvalidKey,
    #[error("only virtual keys and service tokens may use the proxy")]
    WrongRole,
    #[error("this virtual key may not reach provider `{0}`")]
    ProviderNotAllowed(ProviderId),
    #[error("this virtual key may not use the model the request names (its `models` list)")]
    ModelNotAllowed,
    #[error(
        "byok does not forward this method and path to {0}: the proxy reaches only the API a product uses for its users, not key management, billing or account settings"
    )]
    PathNotAllowed(String),
    #[error(
        "the request carries a byok token outside the place the key goes; byok forwards no byok token to a provider"
    )]
    StrayToken,
    #[error("unknown provider `{0}`")]
    UnknownProvider(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotProxyable(String),
    #[error("the request body is larger than the proxy's limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("this virtual key has used its monthly limit of {0} requests")]
    KeyQuotaExhausted(i64),
    #[error("this virtual key has used its monthly budget of {0} tokens")]
    KeyTokensExhausted(i64),
    #[error("{0}")]
    QuotaExhausted(String),
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    #[error("{0}")]
    NoCredential(String),
    #[error("{0}")]
    Upstream(String),
    #[error("{0}")]
    UpstreamTimeout(String),
    #[error("the database is not answering")]
    Unavailable,
    #[error("{0}")]
    CredentialUnreadable(String),
    #[error("internal error")]
    Internal(String),
}

impl Refusal {
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        Refusal::Internal(format!("{context}: {err}"))
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Refusal::MissingKey | Refusal::InvalidKey => (StatusCode::UNAUTHORIZED, "invalid_api_key"),
            Refusal::WrongRole => (StatusCode::FORBIDDEN, "forbidden"),
            Refusal::ProviderNotAllowed(_) => (StatusCode::FORBIDDEN, "provider_not_allowed"),
            Refusal::ModelNotAllowed => (StatusCode::FORBIDDEN, "model_not_allowed"),
            Refusal::PathNotAllowed(_) => (StatusCode::FORBIDDEN, "path_not_allowed"),
            Refusal::StrayToken => (StatusCode::BAD_REQUEST, "invalid_request"),
            Refusal::UnknownProvider(_) => (StatusCode::NOT_FOUND, "unknown_provider"),
            Refusal::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Refusal::NotProxyable(_) => (StatusCode::BAD_REQUEST, "not_proxyable"),
            Refusal::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Refusal::KeyQuotaExhausted(_) | Refusal::KeyTokensExhausted(_) => {
                (StatusCode::TOO_MANY_REQUESTS, "virtual_key_quota_exhausted")
            }
            Refusal::QuotaExhausted(_) => (StatusCode::TOO_MANY_REQUESTS, "quota_exhausted"),
            Refusal::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Refusal::NoCredential(_) => (StatusCode::NOT_FOUND, "no_credential"),
            Refusal::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream_error"),
            Refusal::UpstreamTimeout(_) => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
            Refusal::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Refusal::CredentialUnreadable(_) => (StatusCode::INTERNAL_SERVER_ERROR, "credential_unreadable"),
            Refusal::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The answer in `dialect`'s error shape.
    pub fn answer(self, dialect: Dialect) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            Refusal::Internal(context) => {
                tracing::error!(error = %context, "internal error in the proxy");
                "the request could not be completed; the server log has details".to_owned()
            }
            other => other.to_string(),
        };
        let (status, content_type, body) = match dialect {
            Dialect::Openai => (status, "application/json", openai(status, code, &message)),
            Dialect::Anthropic => (status, "application/json", anthropic(status, code, &message)),
            Dialect::Gemini => (status, "application/json", gemini(status, code, &message)),
            Dialect::Runway => (status, "application/json", runway(code, &message)),
            Dialect::Stability => (status, "application/json", stability(code, &message)),
            Dialect::Exa => (status, "application/json", exa(code, &message)),
            Dialect::Twilio => (status, "application/json", messaging_refusals::twilio(status, code, &message)),
            Dialect::Resend => {
                let (status, body) = messaging_refusals::resend(&self, status, code, &message);
                (status, "application/json", body)
            }
            Dialect::Generic => (status, "application/problem+json", problem(status, code, &message)),
        };
        let mut response = (status, body.to_string()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Refusal::RateLimited { retry_after_secs, .. } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

/// `{"error": {"message", "type", "param", "code"}}`; the SDK picks its error class
/// from the status (401 AuthenticationError, 403 PermissionDeniedError, 404
/// NotFoundError, 429 RateLimitError), and the type from the kind of 429 OpenAI's own
/// answers give (`requests` for a per-minute limit, `insufficient_quota` for a budget).
fn openai(status: StatusCode, code: &str, message: &str) -> Value {
    let kind = match status.as_u16() {
        401 => "invalid_request_error",
        403 => "permission_error",
        429 if code == "rate_limited" => "requests",
        429 => "insufficient_quota",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// `{"type": "error", "error": {"type", "message"}}` with the type Anthropic uses for
/// the status.
fn anthropic(status: StatusCode, code: &str, message: &str) -> Value {
    let kind = match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message, "code": code}})
}

/// google.rpc.Status, with byok's code as the `ErrorInfo` reason.
fn gemini(status: StatusCode, code: &str, message: &str) -> Value {
    let rpc = match status.as_u16() {
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 | 502 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        500..=599 => "INTERNAL",
        _ => "INVALID_ARGUMENT",
    };
    json!({"error": {"code": status.as_u16(), "message": message, "status": rpc, "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": code, "domain": "byok"}
    ]}})
}

/// Runway's `{"error": "…"}`; its SDK picks the error class from the status alone.
fn runway(code: &str, message: &str) -> Value {
    json!({"error": message, "code": code})
}

/// Stability's `{"id", "name", "errors"}`: an id for the answer, the kind of error as
/// `name` (byok's code) and the messages.
fn stability(code: &str, message: &str) -> Value {
    json!({"id": uuid::Uuid::new_v4().simple().to_string(), "name": code, "errors": [message]})
}

/// Exa's `{"requestId", "error", "tag"}`, with byok's code upper-cased as Exa writes its
/// tags (`INVALID_API_KEY`). exa-py raises `ValueError` naming the status and this body.
fn exa(code: &str, message: &str) -> Value {
    json!({"requestId": uuid::Uuid::new_v4().simple().to_string(), "error": message, "tag": code.to_ascii_uppercase()})
}

/// byok's own problem+json, as every other route answers.
fn problem(status: StatusCode, code: &str, message: &str) -> Value {
    json!({"type": format!("urn:byok:problem:{code}"), "title": status.canonical_reason().unwrap_or("Error"),
           "status": status.as_u16(), "detail": message, "code": code})
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::QuotaExhausted(m) => Refusal::QuotaExhausted(m),
            ApiError::RateLimited { detail, retry_after_secs } => {
                Refusal::RateLimited { message: detail, retry_after_secs }
            }
            ApiError::NoCredential { detail, .. } => Refusal::NoCredential(detail),
            ApiError::CredentialUnreadable(m) => Refusal::CredentialUnreadable(m),
            ApiError::Unavailable => Refusal::Unavailable,
            ApiError::Internal(context) => Refusal::Internal(context),
            ApiError::UnknownProvider(m) => Refusal::UnknownProvider(m),
            ApiError::InvalidField(m) | ApiError::InvalidQuery(m) | ApiError::MalformedJson(m) => {
                Refusal::BadRequest(m)
            }
            other => Refusal::internal("proxy", other),
        }
    }
}

impl From<byok_store::StoreError> for Refusal {
    fn from(e: byok_store::StoreError) -> Self {
        Refusal::internal("store", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn each_dialect_gets_its_own_shape_with_byoks_code() {
        let r = Refusal::InvalidKey.answer(Dialect::Openai);
        assert_eq!(r.status(), 401);
        let b = body(r).await;
        assert_eq!(
            (b["error"]["code"].as_str(), b["error"]["type"].as_str()),
            (Some("invalid_api_key"), Some("invalid_request_error"))
        );
        let b = body(Refusal::KeyQuotaExhausted(3).answer(Dialect::Anthropic)).await;
        assert_eq!((b["type"].as_str(), b["error"]["type"].as_str()), (Some("error"), Some("rate_limit_error")));
        assert_eq!(b["error"]["code"], "virtual_key_quota_exhausted");
        let b = body(Refusal::NoCredential("none".into()).answer(Dialect::Gemini)).await;
        assert_eq!((b["error"]["code"].as_u64(), b["error"]["status"].as_str()), (Some(404), Some("NOT_FOUND")));
        assert_eq!(b["error"]["details"][0]["reason"], "no_credential");
        let b = body(Refusal::InvalidKey.answer(Dialect::Runway)).await;
        assert_eq!((b["error"].as_str().is_some(), b["code"].as_str()), (true, Some("invalid_api_key")));
        let b = body(Refusal::KeyQuotaExhausted(3).answer(Dialect::Stability)).await;
        assert_eq!(
            (b["name"].as_str(), b["id"].as_str().map(str::len)),
            (Some("virtual_key_quota_exhausted"), Some(32))
        );
        assert!(b["errors"][0].as_str().unwrap().contains("monthly limit"));
        let b = body(Refusal::InvalidKey.answer(Dialect::Exa)).await;
        assert_eq!((b["tag"].as_str(), b["error"].as_str().is_some()), (Some("INVALID_API_KEY"), true));
        let r = Refusal::WrongRole.answer(Dialect::Generic);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert_eq!(body(r).await["code"], "forbidden");
    }
}
