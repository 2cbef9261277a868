//! One router per provider, and what they share: choosing the answer by credential.

mod anthropic;
mod aws;
mod azure;
pub(crate) mod azure_openai;
pub(crate) mod bedrock;
mod compatible_chat;
mod exa;
mod gcp;
mod gemini;
mod gemini_generate;
pub(crate) mod key_admin;
pub(crate) mod llm;
mod openai;
mod openai_work;
mod openrouter;
mod resend;
mod resend_emails;
mod runway;
pub(crate) mod runway_tasks;
mod stability;
pub(crate) mod stability_generate;
mod twilio;
mod twilio_messages;
pub(crate) mod vertex;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use crate::credentials::{Behaviour, behaviour};

/// How long a hanging fake waits before answering: longer than any probe timeout.
const HANG: Duration = Duration::from_secs(60);

pub(crate) fn router(provider: &'static str, origin: &str) -> Router {
    match provider {
        "openai" => openai::router("openai")
            .route("/v1/chat/completions", post(llm::chat))
            .merge(openai_work::router())
            .merge(key_admin::openai()),
        "groq" => openai::router("groq").merge(compatible_chat::groq()),
        "anthropic" => anthropic::router().route("/v1/messages", post(llm::messages)),
        "gemini" => gemini::router(),
        "openrouter" => openrouter::router().merge(compatible_chat::openrouter()),
        "stability" => stability::router(),
        "runway" => runway::router(),
        "exa" => exa::router(),
        "twilio" => twilio::router().merge(key_admin::twilio()),
        "resend" => resend::router().merge(key_admin::resend()),
        "aws" => aws::router(),
        "azure" => azure::router(),
        "gcp" => gcp::router(origin),
        _ => Router::new(),
    }
}

/// A provider's answers for the behaviours a key can choose.
pub(crate) struct Answers {
    pub ok: fn() -> Response,
    /// For a key the provider does not know.
    pub invalid: fn() -> Response,
    /// For a valid key that may not do this; providers without one answer `invalid`.
    pub restricted: Option<fn() -> Response>,
    pub server_error: fn() -> Response,
    pub rate_limited: fn() -> Response,
}

/// The answer `provider` gives for `key`.
pub(crate) async fn answer(provider: &str, key: &str, answers: &Answers) -> Response {
    match behaviour(provider, key) {
        Some(Behaviour::Good) => (answers.ok)(),
        Some(Behaviour::ServerError) => (answers.server_error)(),
        Some(Behaviour::RateLimited) => (answers.rate_limited)(),
        Some(Behaviour::Hang) => hang().await,
        Some(Behaviour::Restricted) => answers.restricted.unwrap_or(answers.invalid)(),
        None => (answers.invalid)(),
    }
}

pub(crate) async fn hang() -> Response {
    tokio::time::sleep(HANG).await;
    StatusCode::GATEWAY_TIMEOUT.into_response()
}

/// A JSON answer (`application/json`).
pub(crate) fn json(status: u16, body: Value) -> Response {
    typed(status, "application/json", body.to_string())
}

/// An answer with an explicit content type.
pub(crate) fn typed(status: u16, content_type: &'static str, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response()
}

/// A header's value as text.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// The token of `Authorization: Bearer <token>`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    header(headers, "authorization")?.strip_prefix("Bearer ")
}
