//! How the settings page answers a failure: an HTML page with the API's status, or a
//! redirect to sign in.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use crate::ApiError;
use crate::ui::layout;

#[derive(Debug, thiserror::Error)]
pub(crate) enum UiError {
    /// No session, or its token expired or was revoked.
    #[error("signed out")]
    SignedOut,
    /// A state-changing request without this session's form token, or sent cross-site.
    #[error("the form did not come from this page")]
    Forgery,
    /// A request the page cannot read (malformed or too large), with its status.
    #[error("{1}")]
    BadRequest(StatusCode, String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match self {
            UiError::SignedOut => return Redirect::to("/ui/login").into_response(),
            UiError::Forgery => {
                tracing::warn!("settings page form refused: missing or wrong form token, or sent cross-site");
                (
                    StatusCode::FORBIDDEN,
                    "Request refused",
                    "This form was not sent from byok's settings page. Reload the page and try again.".to_owned(),
                )
            }
            UiError::BadRequest(status, reason) => (status, "Bad request", reason),
            UiError::Api(ApiError::NotFound) => {
                (StatusCode::NOT_FOUND, "Not found", "There is nothing here, or it is not yours to see.".to_owned())
            }
            UiError::Api(e) => {
                let (status, detail) = e.status_and_detail();
                (status, "Something went wrong", detail)
            }
        };
        let body = html! {
            h1 { (title) }
            p role="alert" { (detail) }
            p { a href="/ui" { "Back to your integrations" } }
        };
        (status, layout::page(title, None, body)).into_response()
    }
}
