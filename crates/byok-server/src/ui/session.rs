//! Sign-in for the settings page. The product's backend mints a user token with a
//! one-time sign-in link and sends the person to it, or the product's page posts the
//! JWT of its own sign-in; byok keeps the token in an HttpOnly, SameSite=Strict cookie
//! (never in a URL), and re-checks it on every request, so the session ends when the
//! token expires or is revoked. Every state-changing form carries a value derived from
//! the token (see `byok_crypto::form_token`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use byok_core::{Principal, Role, Timestamp};
use byok_crypto::{constant_time_eq, form_token, hash_token};
use maud::html;
use serde::Deserialize;

use crate::audit::{RequestInfo, request_info};
use crate::auth::{authenticate, record_refusal};
use crate::ui::error::UiError;
use crate::ui::layout;
use crate::{ApiError, AppState};

const COOKIE_NAME: &str = "byok_session";

/// A signed-in person: a user token's principal.
pub(crate) struct Session {
    pub principal: Principal,
    form_token: String,
}

impl Session {
    pub fn form_token(&self) -> &str {
        &self.form_token
    }

    pub fn who(&self) -> String {
        self.principal.owner.as_ref().map_or_else(String::new, ToString::to_string)
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let token = cookie(&parts.headers, COOKIE_NAME).ok_or(UiError::SignedOut)?;
        match sign_in(state, token).await {
            Ok(principal) => Ok(Session { principal, form_token: form_token(token) }),
            Err(e) if e.is_unauthenticated() => {
                record_refusal(state, parts).await;
                Err(UiError::SignedOut)
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// The principal of a token that may use the settings page: active, of a user.
async fn sign_in(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let principal = authenticate(state, token).await?;
    if principal.role != Role::User || principal.owner.is_none() {
        return Err(ApiError::Unauthorized);
    }
    Ok(principal)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name && !v.is_empty()).then_some(v))
}

/// A state-changing request from the settings page: a signed-in session, a form whose
/// anti-forgery value matches it, not sent cross-site.
pub(crate) struct SignedForm {
    pub session: Session,
    pub fields: FormFields,
    pub info: RequestInfo,
}

impl FromRequest<AppState> for SignedForm {
    type Rejection = UiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, UiError> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let info = request_info(&parts);
        // Browsers say where a request came from; a cross-site form is refused even
        // before its anti-forgery value is looked at.
        if parts.headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site") {
            return Err(UiError::Forgery);
        }
        let Form(fields) = Form::<Vec<(String, String)>>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| UiError::BadRequest(e.status(), e.body_text()))?;
        let fields = FormFields(fields);
        let sent = fields.get("csrf").unwrap_or_default();
        if !constant_time_eq(sent.as_bytes(), session.form_token.as_bytes()) {
            return Err(UiError::Forgery);
        }
        Ok(SignedForm { session, fields, info })
    }
}

/// A submitted form's fields, in order.
pub(crate) struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Fields whose names start with `prefix`, the prefix removed.
    pub fn prefixed<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0.iter().filter_map(move |(k, v)| k.strip_prefix(prefix).map(|k| (k, v.as_str())))
    }
}

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    token: Option<String>,
}

/// Whether the browser says the request comes from another site (a sibling subdomain
/// included). Browsers that send no `Sec-Fetch-Site` cannot be told apart.
fn from_another_site(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site" || v == "same-site")
}

/// `GET /ui/login`: signs in with `?token=` (and leaves the token out of the URL by
/// redirecting), or shows the sign-in form. From another site only a one-time sign-in
/// link signs in (login CSRF: a page must not sign a visitor in as someone else).
pub(crate) async fn login_page(
    State(state): State<AppState>,
    parts: Parts,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Response {
    let Some(token) = query.ok().and_then(|Query(q)| q.token) else {
        return login_form(StatusCode::OK, None);
    };
    let token = token.trim();
    if from_another_site(&parts.headers) {
        match state.store.take_sign_in_link(&hash_token(token), Timestamp::now()).await {
            Ok(true) => {}
            Ok(false) => return cross_site_refused(&state, &parts).await,
            Err(e) => return UiError::Api(e.into()).into_response(),
        }
    }
    start_session(&state, &parts, token).await
}

async fn cross_site_refused(state: &AppState, parts: &Parts) -> Response {
    record_refusal(state, parts).await;
    login_form(
        StatusCode::FORBIDDEN,
        Some(
            "Signing in from another site needs a one-time sign-in link, used within a minute of being made. Ask your product for a new one.",
        ),
    )
}

/// `POST /ui/login`: the sign-in form (never from another site).
pub(crate) async fn login_submit(State(state): State<AppState>, parts: Parts, body: axum::body::Bytes) -> Response {
    if from_another_site(&parts.headers) {
        return cross_site_refused(&state, &parts).await;
    }
    let token = form_urlencoded::parse(&body).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned());
    match token {
        Some(token) if !token.trim().is_empty() => start_session(&state, &parts, token.trim()).await,
        _ => login_form(StatusCode::UNPROCESSABLE_ENTITY, Some("Paste the sign-in token you were given.")),
    }
}

/// `POST /ui/login/jwt`: a product's page signs its signed-in user in with the JWT of its
/// own sign-in, posted as the form field `jwt` (so it is in no URL). Login CSRF: only
/// byok's own pages and those of `BYOK_UI_SIGN_IN_ORIGINS` (the browser's `Origin`) may;
/// any other page cannot sign a visitor in, as anyone.
pub(crate) async fn login_with_jwt(State(state): State<AppState>, parts: Parts, body: axum::body::Bytes) -> Response {
    let same_origin = parts.headers.get("sec-fetch-site").is_some_and(|v| v == "same-origin");
    let origin = parts.headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    let allowed = origin.is_some_and(|o| state.settings.ui_sign_in_origins.iter().any(|a| a == o));
    if !(same_origin || allowed) {
        record_refusal(&state, &parts).await;
        return login_form(
            StatusCode::FORBIDDEN,
            Some("This page may not sign you in to byok. Open byok from your product instead."),
        );
    }
    let jwt = form_urlencoded::parse(&body).find(|(k, _)| k == "jwt").map(|(_, v)| v.trim().to_owned());
    let Some(jwt) = jwt.filter(|t| state.jwt.is_some() && crate::jwt::looks_like_jwt(t)) else {
        return login_form(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("No sign-in token of your product came with the request."),
        );
    };
    match sign_in(&state, &jwt).await {
        Ok(_) => {
            let max_age = crate::jwt::expires_at(&jwt).map(|exp| exp - Timestamp::now().millis() / 1000);
            let cookie = session_cookie(&jwt, max_age, state.settings.ui_secure_cookie);
            // Onwards from byok's own page, so the browser sends its SameSite=Strict cookie.
            let body = html! { p { "Signed in. " a href="/ui" { "Continue to your integrations" } "." } };
            (StatusCode::OK, [(SET_COOKIE, cookie)], layout::page_refreshed("Signed in", None, body, Some("0;url=/ui")))
                .into_response()
        }
        Err(e) if e.is_unauthenticated() => {
            record_refusal(&state, &parts).await;
            login_form(StatusCode::UNAUTHORIZED, Some("Your sign-in was not accepted: sign in to your product again."))
        }
        Err(other) => UiError::Api(other).into_response(),
    }
}

async fn start_session(state: &AppState, parts: &Parts, token: &str) -> Response {
    match sign_in(state, token).await {
        Ok(_) => {
            let max_age = match state.store.token_by_hash(&hash_token(token)).await {
                Ok(Some(stored)) => stored.expires_at.map(|at| (at.millis() - Timestamp::now().millis()) / 1000),
                Ok(None) => None,
                Err(e) => return UiError::Api(e.into()).into_response(),
            };
            let cookie = session_cookie(token, max_age, state.settings.ui_secure_cookie);
            (StatusCode::SEE_OTHER, [(SET_COOKIE, cookie), (LOCATION, "/ui".to_owned())]).into_response()
        }
        Err(e) if e.is_unauthenticated() => {
            record_refusal(state, parts).await;
            login_form(
                StatusCode::UNAUTHORIZED,
                Some("That sign-in link is not valid: it may have expired or been revoked. Ask for a new one."),
            )
        }
        Err(other) => UiError::Api(other).into_response(),
    }
}

fn session_cookie(token: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut cookie = format!("{COOKIE_NAME}={token}; Path=/ui; HttpOnly; SameSite=Strict");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={}", seconds.max(0)));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// `POST /ui/logout`: forgets the session cookie (the token itself stays valid).
pub(crate) async fn logout(State(state): State<AppState>, _form: SignedForm) -> Response {
    let cookie = session_cookie("", Some(0), state.settings.ui_secure_cookie);
    (StatusCode::SEE_OTHER, [(SET_COOKIE, cookie), (LOCATION, "/ui/login".to_owned())]).into_response()
}

fn login_form(status: StatusCode, error: Option<&str>) -> Response {
    let body = html! {
        h1 { "Sign in" }
        @if let Some(error) = error {
            p class="error" role="alert" id="login-error" { (error) }
        }
        p { "Open the sign-in link your product gave you, or paste its token here." }
        form method="post" action="/ui/login" class="stack" {
            label for="token" { "Sign-in token" }
            input id="token" name="token" type="password" autocomplete="off" required
                aria-describedby=[error.map(|_| "login-error")];
            button type="submit" { "Sign in" }
        }
    };
    (status, layout::page("Sign in", None, body)).into_response()
}
