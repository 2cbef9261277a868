//! The settings page's buttons: test, enable/disable, delete, and "use platform
//! credentials instead". Each goes through the same functions as the API.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use byok_core::Owner;
use maud::html;

use crate::routes::{PatchCredential, delete, run_test, update};
use crate::ui::card::{field_label, key_name};
use crate::ui::error::UiError;
use crate::ui::forms::{owner_words, visible};
use crate::ui::layout::{self, csrf_field};
use crate::ui::session::{Session, SignedForm};
use crate::ui::settings::{Tested, credentials_of, render, slug};
use crate::{ApiError, AppState};

/// `POST /ui/credentials/{id}/test`: the page again, with the result in the card.
pub(crate) async fn test(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Result<Response, UiError> {
    let SignedForm { session, info, .. } = form;
    let result = match run_test(&state, &session.principal, &info, &id).await {
        Ok(result) => Ok(result),
        Err(e @ (ApiError::RateLimited { .. } | ApiError::CredentialUnreadable(_))) => Err(e.status_and_detail().1),
        Err(e) => return Err(e.into()),
    };
    let tested = Tested { credential_id: id, result };
    Ok(render(&state, &session, None, Some(&tested)).await?.into_response())
}

/// `POST /ui/credentials/{id}/enabled` with `enabled=true|false`.
pub(crate) async fn set_enabled(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Result<Response, UiError> {
    let SignedForm { session, fields, info } = form;
    let enabled = match fields.get("enabled") {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(UiError::BadRequest(StatusCode::BAD_REQUEST, "`enabled` must be true or false".into())),
    };
    let change = PatchCredential {
        label: None,
        fields: None,
        enabled: Some(enabled),
        priority: None,
        monthly_limit: None,
        monthly_token_limit: None,
        rate_limit_per_minute: None,
        validate: None,
    };
    let c = update(&state, &session.principal, &info, &id, change).await?;
    let notice = if enabled { "enabled" } else { "disabled" };
    Ok(Redirect::to(&format!("/ui?notice={notice}#cred-{}", c.id)).into_response())
}

/// `GET /ui/credentials/{id}/delete`: asks first.
pub(crate) async fn confirm_delete(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let (c, spec) = visible(&state, &session, &id).await?;
    let name = key_name(c.label.as_str(), spec);
    let body = html! {
        h1 { "Delete " (name) "?" }
        p { "The " (spec.name) " key of " (owner_words(&c.owner)) " will be deleted with its earlier versions. This cannot be undone." }
        dl class="facts" {
            @for (field, hint) in &c.secret_hints {
                dt { (field_label(spec, field)) } dd { code { (hint) } }
            }
        }
        form method="post" action={ "/ui/credentials/" (c.id) "/delete" } class="actions" {
            (csrf_field(&session))
            button type="submit" class="danger" { "Delete" }
            a class="button secondary" href="/ui" { "Cancel" }
        }
    };
    Ok(layout::page("Delete key", Some(&session), body).into_response())
}

/// `POST /ui/credentials/{id}/delete`
pub(crate) async fn delete_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Result<Response, UiError> {
    let SignedForm { session, info, .. } = form;
    delete(&state, &session.principal, &info, &id).await?;
    Ok(Redirect::to("/ui?notice=deleted").into_response())
}

/// `POST /ui/platform` with `owner` and `provider`: disables the owner's keys for the
/// provider, so resolve falls through to the platform's.
pub(crate) async fn use_platform(State(state): State<AppState>, form: SignedForm) -> Result<Response, UiError> {
    let SignedForm { session, fields, info } = form;
    let owner: Owner = fields.get("owner").unwrap_or_default().parse().map_err(|_| ApiError::NotFound)?;
    let spec = state.catalog.get(fields.get("provider").unwrap_or_default()).map_err(|_| ApiError::NotFound)?;
    if !session.principal.can_manage(&owner) || owner.is_platform() {
        return Err(ApiError::NotFound.into());
    }
    for c in credentials_of(&state, vec![owner.clone()]).await? {
        if c.provider == spec.id && c.enabled {
            let change = PatchCredential {
                label: None,
                fields: None,
                enabled: Some(false),
                priority: None,
                monthly_limit: None,
                monthly_token_limit: None,
                rate_limit_per_minute: None,
                validate: None,
            };
            update(&state, &session.principal, &info, &c.id.to_string(), change).await?;
        }
    }
    Ok(Redirect::to(&format!("/ui?notice=platform#card-{}-{}", slug(&owner), spec.id)).into_response())
}
