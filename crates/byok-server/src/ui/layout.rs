//! The page shell every settings page shares, and small pieces used across pages.

use maud::{DOCTYPE, Markup, html};

use crate::ui::session::Session;

/// A whole HTML page.
pub(crate) fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    page_refreshed(title, session, body, None)
}

/// A whole HTML page with a `refresh` (no script needed): `"3"` reloads it after three
/// seconds, `"0;url=/ui"` goes on to the settings page at once.
pub(crate) fn page_refreshed(title: &str, session: Option<&Session>, body: Markup, refresh: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(refresh) = refresh {
                    meta http-equiv="refresh" content=(refresh);
                }
                title { (title) " · byok" }
                link rel="stylesheet" href="/ui/static/style.css";
            }
            body {
                header class="top" {
                    a class="brand" href="/ui" { "byok" }
                    @if let Some(session) = session {
                        span class="who" { "Signed in as " strong { (session.who()) } }
                        form method="post" action="/ui/logout" class="inline" {
                            (csrf_field(session))
                            button type="submit" class="link" { "Sign out" }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// The hidden anti-forgery field every state-changing form carries.
pub(crate) fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.form_token()); }
}

/// A status badge, labelled for people.
pub(crate) fn badge(status: &str) -> Markup {
    let label = match status {
        "connected" => "Connected",
        "verifying" => "Verifying",
        "restricted" => "Restricted",
        "error" => "Error",
        "disabled" => "Disabled",
        _ => "Not verified",
    };
    html! { span class={ "badge badge-" (status) } { (label) } }
}

/// An RFC 3339 time as people read it: `2026-11-22 04:30 UTC`.
pub(crate) fn when(rfc3339: &str) -> String {
    match rfc3339.get(..16) {
        Some(minutes) => format!("{} UTC", minutes.replacen('T', " ", 1)),
        None => rfc3339.to_owned(),
    }
}
