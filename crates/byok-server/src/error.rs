//! The one place where errors become HTTP answers: `application/problem+json` with a
//! stable machine-readable `code`. Internal errors are logged with their context and
//! answered without detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use byok_core::DomainError;
use byok_crypto::CryptoError;
use byok_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    MalformedJson(String),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("the request body must be JSON with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("{0}")]
    InvalidField(String),
    #[error("{0}")]
    UnknownProvider(String),
    #[error("{0}")]
    Conflict(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the database is not answering")]
    Unavailable,
    #[error("{detail}")]
    NoCredential { detail: String, tiers: Vec<String> },
    #[error("{0}")]
    QuotaExhausted(String),
    /// Too many requests; `retry-after` says when the next may go.
    #[error("{detail}")]
    RateLimited { detail: String, retry_after_secs: u64 },
    #[error("{0}")]
    ValidationFailed(String),
    #[error("{0}")]
    CredentialUnreadable(String),
    /// A JWT that does not verify, or names no valid user.
    #[error("{}", .0.code_and_detail().1)]
    JwtRefused(crate::jwt::JwtRefusal),
    /// The org lets its cloud credentials leave only as short-lived ones.
    #[error("{0}")]
    ShortLivedOnly(String),
    /// The provider would not mint a short-lived credential from the stored one.
    #[error("{0}")]
    MintFailed(String),
    /// A webhook endpoint that byok will not create: `invalid_url`,
    /// `private_address` or `unknown_event`.
    #[error("{detail}")]
    WebhookRefused { code: &'static str, detail: String },
    #[error("internal error")]
    Internal(String),
}

/// The problem document (RFC 9457) every error answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable error code.
    pub code: &'static str,
    /// For `no_credential`: the tiers that were tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<String>>,
}

impl ApiError {
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        ApiError::Internal(format!("{context}: {err}"))
    }

    /// Whether the caller could not be authenticated (no token, an unknown one, a JWT
    /// that does not verify): refused and audited alike wherever a token is presented.
    pub(crate) fn is_unauthenticated(&self) -> bool {
        matches!(self, ApiError::Unauthorized | ApiError::JwtRefused(_))
    }

    /// The status and the sentence a caller may read; internal errors are logged here
    /// and answered without detail.
    pub(crate) fn status_and_detail(&self) -> (StatusCode, String) {
        let detail = match self {
            ApiError::Internal(context) => {
                tracing::error!(error = %context, "internal error");
                "the request could not be completed; the server log has details".to_owned()
            }
            other => byok_core::redact_tokens(&other.to_string()).into_owned(),
        };
        (self.parts().0, detail)
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            ApiError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON"),
            ApiError::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "invalid_query", "Invalid query"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type")
            }
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "Payload too large"),
            ApiError::InvalidField(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "Invalid field"),
            ApiError::UnknownProvider(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_provider", "Unknown provider"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            ApiError::NoCredential { .. } => (StatusCode::NOT_FOUND, "no_credential", "No credential"),
            ApiError::QuotaExhausted(_) => (StatusCode::TOO_MANY_REQUESTS, "quota_exhausted", "Quota exhausted"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Rate limited"),
            ApiError::ValidationFailed(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "Validation failed")
            }
            ApiError::CredentialUnreadable(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "credential_unreadable", "Credential unreadable")
            }
            ApiError::JwtRefused(refusal) => (StatusCode::UNAUTHORIZED, refusal.code_and_detail().0, "Unauthorized"),
            ApiError::ShortLivedOnly(_) => (StatusCode::FORBIDDEN, "short_lived_only", "Short-lived credentials only"),
            ApiError::MintFailed(_) => (StatusCode::BAD_GATEWAY, "mint_failed", "Short-lived credential not issued"),
            ApiError::WebhookRefused { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code, "Webhook refused"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        let (_, detail) = self.status_and_detail();
        let tiers = match &self {
            ApiError::NoCredential { tiers, .. } => Some(tiers.clone()),
            _ => None,
        };
        let problem =
            Problem { kind: format!("urn:byok:problem:{code}"), title, status: status.as_u16(), detail, code, tiers };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let ApiError::RateLimited { retry_after_secs, .. } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::UnknownProvider(_) => ApiError::UnknownProvider(e.to_string()),
            DomainError::InvalidField { .. } => ApiError::InvalidField(e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(reason) => ApiError::Conflict(reason.to_owned()),
            other => ApiError::internal("store", other),
        }
    }
}

impl From<CryptoError> for ApiError {
    fn from(e: CryptoError) -> Self {
        ApiError::internal("sealed secret", e)
    }
}
