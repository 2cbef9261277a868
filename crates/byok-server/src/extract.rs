//! Request extractors whose rejections are problem+json answers.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// `axum::Json` with byok's error answers. A body that does not fit the expected
/// shape is described by field name only: serde's own messages can quote the value,
/// and the value may be a secret typed into the wrong place.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType),
            Err(JsonRejection::JsonSyntaxError(_)) => {
                Err(ApiError::MalformedJson("the request body is not valid JSON".into()))
            }
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::InvalidField(describe_data_error(&e.body_text()))),
            Err(JsonRejection::BytesRejection(e)) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(other) => {
                Err(ApiError::MalformedJson(format!("the request body could not be read ({})", other.status())))
            }
        }
    }
}

/// Keeps the path and the kind of mismatch from serde's message, drops any quoted value.
fn describe_data_error(text: &str) -> String {
    let message = text.strip_prefix("Failed to deserialize the JSON body into the target type: ").unwrap_or(text);
    let (path, reason) = match message.split_once(": ") {
        Some((path, reason)) if !path.contains(' ') => (Some(path), reason),
        _ => (None, message),
    };
    let reason = if let Some(kind) = ["unknown field", "missing field"].into_iter().find(|k| reason.starts_with(k)) {
        let name = reason.split('`').nth(1).unwrap_or("");
        format!("{kind} `{}`", byok_core::echo_name(name))
    } else if reason.starts_with("invalid type") {
        "has the wrong type".to_owned()
    } else {
        "has an invalid value".to_owned()
    };
    match path.map(safe_path) {
        Some(path) if path != "." => format!("`{path}` {reason}"),
        _ if reason.starts_with("unknown") || reason.starts_with("missing") => reason,
        _ => format!("the body {reason}"),
    }
}

/// A JSON path from serde, with any segment that is not a plain name or index
/// replaced: object keys come from the caller and may be secrets.
fn safe_path(path: &str) -> String {
    path.split('.')
        .map(|seg| {
            let index = seg
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
            if index { seg.to_owned() } else { byok_core::echo_name(seg) }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// `axum::extract::Query` with byok's error answers.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::InvalidQuery(describe_query_error(&e.body_text())))
    }
}

/// The kind of mismatch from serde's message, without anything the caller typed: an
/// unknown parameter's name may be a secret pasted into the wrong place.
fn describe_query_error(text: &str) -> String {
    let reason = text.split_once(": ").map_or(text, |(_, r)| r);
    let reason = if reason.starts_with("unknown field") {
        "unknown parameter".to_owned()
    } else if let Some(name) = reason.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
        format!("missing parameter `{}`", byok_core::echo_name(name))
    } else {
        "a parameter has an invalid value".to_owned()
    };
    format!("invalid query string: {reason}")
}

#[cfg(test)]
mod tests {
    use super::{describe_data_error, describe_query_error};

    #[test]
    fn data_errors_never_quote_values() {
        let msg = "Failed to deserialize the JSON body into the target type: fields.api_key: invalid type: integer `123`, expected a string at line 1 column 20";
        assert_eq!(describe_data_error(msg), "`fields.api_key` has the wrong type");
        let msg = "Failed to deserialize the JSON body into the target type: priority: invalid value: string \"sk-secret\", expected i64";
        assert!(!describe_data_error(msg).contains("sk-secret"));
        let msg = "Failed to deserialize the JSON body into the target type: unknown field `colour`, expected one of `a`, `b` at line 1 column 9";
        assert_eq!(describe_data_error(msg), "unknown field `colour`");
        let msg =
            "Failed to deserialize the JSON body into the target type: missing field `provider` at line 1 column 2";
        assert_eq!(describe_data_error(msg), "missing field `provider`");
        let msg = "Failed to deserialize the JSON body into the target type: unknown field `sk-canary-123`, expected one of `a` at line 1 column 9";
        assert!(!describe_data_error(msg).contains("canary"));
        let msg = "Failed to deserialize the JSON body into the target type: sk-canary-123: unknown field `sk-canary-123` at line 1 column 9";
        assert!(!describe_data_error(msg).contains("canary"), "{}", describe_data_error(msg));
    }

    #[test]
    fn unknown_query_names_are_not_echoed() {
        let msg = "Failed to deserialize query string: unknown field `sk-proj-CANARY123`, expected one of `owner`, `provider`";
        assert_eq!(describe_query_error(msg), "invalid query string: unknown parameter");
        let msg = "Failed to deserialize query string: unknown variant `sk-proj-CANARY123`, expected `a` or `b`";
        assert!(!describe_query_error(msg).contains("CANARY"));
        let msg = "Failed to deserialize query string: missing field `owner`";
        assert_eq!(describe_query_error(msg), "invalid query string: missing parameter `owner`");
    }
}
