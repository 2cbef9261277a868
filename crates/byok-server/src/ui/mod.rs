//! The settings page at `/ui`: server-rendered HTML (maud), no script, one stylesheet
//! served by byok itself. It works through the same functions as the JSON API.

mod actions;
mod card;
mod error;
mod forms;
mod groups;
mod layout;
mod session;
mod settings;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;

const STYLE: &str = include_str!("style.css");

/// The page's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(settings::settings_page))
        .route("/ui/login", get(session::login_page).post(session::login_submit))
        .route("/ui/login/jwt", post(session::login_with_jwt))
        .route("/ui/logout", post(session::logout))
        .route("/ui/credentials", post(forms::create_submit))
        .route("/ui/credentials/new", get(forms::new_form))
        .route("/ui/credentials/{id}/edit", get(forms::edit_form).post(forms::edit_submit))
        .route("/ui/credentials/{id}/test", post(actions::test))
        .route("/ui/credentials/{id}/enabled", post(actions::set_enabled))
        .route("/ui/credentials/{id}/delete", get(actions::confirm_delete).post(actions::delete_submit))
        .route("/ui/platform", post(actions::use_platform))
        .route("/ui/static/style.css", get(style))
        .layer(axum::middleware::from_fn(page_headers))
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], STYLE)
        .into_response()
}

/// No script runs, nothing is framed by other sites, no page is cached or sends a
/// referrer (the sign-in URL holds a token until the redirect drops it).
async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'";
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}
