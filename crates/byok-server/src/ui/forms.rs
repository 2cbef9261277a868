//! The add and edit forms, generated from the provider's field schema. Secret inputs
//! are password fields, never filled in and never echoed back; a refused form is shown
//! again with the reason and the non-secret values.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use byok_core::{Credential, Owner, ProviderSpec};
use maud::{Markup, html};
use serde::Deserialize;

use crate::routes::{CreateCredential, PatchCredential, create, load_visible, update};
use crate::ui::card::field_label;
use crate::ui::error::UiError;
use crate::ui::layout::{self, csrf_field};
use crate::ui::session::{FormFields, Session, SignedForm};
use crate::{ApiError, AppState};

const FIELD_PREFIX: &str = "field.";

#[derive(Deserialize)]
pub(crate) struct NewQuery {
    owner: String,
    provider: String,
}

/// What a form shows.
struct FormModel<'a> {
    spec: &'a ProviderSpec,
    owner: &'a Owner,
    /// Where it posts.
    action: String,
    /// For an edit: the credential's secret hints.
    hints: Option<&'a BTreeMap<String, String>>,
    label: String,
    config: BTreeMap<String, String>,
    monthly_limit: String,
    validate: bool,
    error: Option<String>,
}

/// `GET /ui/credentials/new?owner=…&provider=…`
pub(crate) async fn new_form(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<NewQuery>, QueryRejection>,
) -> Result<Response, UiError> {
    let Query(q) = query
        .map_err(|_| UiError::BadRequest(StatusCode::BAD_REQUEST, "the page needs an owner and a provider".into()))?;
    let (owner, spec) = owner_and_provider(&state, &session, &q.owner, &q.provider)?;
    let model = FormModel {
        spec,
        owner: &owner,
        action: "/ui/credentials".to_owned(),
        hints: None,
        label: String::new(),
        config: BTreeMap::new(),
        monthly_limit: String::new(),
        validate: true,
        error: None,
    };
    Ok(render(&session, &model, StatusCode::OK))
}

/// `POST /ui/credentials`
pub(crate) async fn create_submit(State(state): State<AppState>, form: SignedForm) -> Result<Response, UiError> {
    let SignedForm { session, fields, info } = form;
    let (owner, spec) = owner_and_provider(
        &state,
        &session,
        fields.get("owner").unwrap_or_default(),
        fields.get("provider").unwrap_or_default(),
    )?;
    let submitted: BTreeMap<String, String> = fields
        .prefixed(FIELD_PREFIX)
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect();
    let mut model = FormModel {
        spec,
        owner: &owner,
        action: "/ui/credentials".to_owned(),
        hints: None,
        label: fields.get("label").unwrap_or_default().trim().to_owned(),
        config: public_values(spec, &submitted),
        monthly_limit: fields.get("monthly_limit").unwrap_or_default().trim().to_owned(),
        validate: fields.get("validate").is_some(),
        error: None,
    };
    let outcome = match parse_limit(&model.monthly_limit) {
        Ok(monthly_limit) => {
            let body = CreateCredential {
                owner: Some(owner.to_string()),
                provider: spec.id.to_string(),
                label: Some(model.label.clone()).filter(|l| !l.is_empty()),
                fields: submitted,
                monthly_limit,
                monthly_token_limit: None,
                rate_limit_per_minute: None,
                priority: None,
                validate: Some(model.validate),
            };
            create(&state, &session.principal, &info, body).await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(c) => Ok(Redirect::to(&format!("/ui?notice=added#cred-{}", c.id)).into_response()),
        Err(e) => refused(&session, &mut model, e),
    }
}

/// `GET /ui/credentials/{id}/edit`
pub(crate) async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let (c, spec) = visible(&state, &session, &id).await?;
    let model = FormModel {
        spec,
        owner: &c.owner,
        action: format!("/ui/credentials/{}/edit", c.id),
        hints: Some(&c.secret_hints),
        label: c.label.as_str().to_owned(),
        config: c.config.clone(),
        monthly_limit: c.monthly_limit.map(|l| l.to_string()).unwrap_or_default(),
        validate: true,
        error: None,
    };
    Ok(render(&session, &model, StatusCode::OK))
}

/// `POST /ui/credentials/{id}/edit`: empty secret inputs keep the stored secret.
pub(crate) async fn edit_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: SignedForm,
) -> Result<Response, UiError> {
    let SignedForm { session, fields, info } = form;
    let (c, spec) = visible(&state, &session, &id).await?;
    let changes = field_changes(spec, &c.config, &fields);
    let submitted_public: BTreeMap<String, String> = spec
        .fields
        .iter()
        .filter(|f| !f.secret)
        .map(|f| {
            (f.name.clone(), fields.get(&format!("{FIELD_PREFIX}{}", f.name)).unwrap_or_default().trim().to_owned())
        })
        .collect();
    let mut model = FormModel {
        spec,
        owner: &c.owner,
        action: format!("/ui/credentials/{}/edit", c.id),
        hints: Some(&c.secret_hints),
        label: fields.get("label").unwrap_or_default().trim().to_owned(),
        config: submitted_public,
        monthly_limit: fields.get("monthly_limit").unwrap_or_default().trim().to_owned(),
        validate: fields.get("validate").is_some(),
        error: None,
    };
    let outcome = match parse_limit(&model.monthly_limit) {
        Ok(monthly_limit) => {
            let body = PatchCredential {
                label: Some(model.label.clone()),
                fields: (!changes.is_empty()).then_some(changes),
                enabled: None,
                priority: None,
                monthly_limit: Some(monthly_limit),
                monthly_token_limit: None,
                rate_limit_per_minute: None,
                validate: Some(model.validate),
            };
            update(&state, &session.principal, &info, &id, body).await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(c) => Ok(Redirect::to(&format!("/ui?notice=saved#cred-{}", c.id)).into_response()),
        Err(e) => refused(&session, &mut model, e),
    }
}

/// What an edit changes: new secrets typed in, and public fields that differ.
fn field_changes(
    spec: &ProviderSpec,
    current: &BTreeMap<String, String>,
    fields: &FormFields,
) -> BTreeMap<String, Option<String>> {
    let mut changes = BTreeMap::new();
    for f in &spec.fields {
        let value = fields.get(&format!("{FIELD_PREFIX}{}", f.name)).unwrap_or_default().trim();
        if f.secret {
            if !value.is_empty() {
                changes.insert(f.name.clone(), Some(value.to_owned()));
            }
        } else if value.is_empty() {
            if current.contains_key(&f.name) {
                changes.insert(f.name.clone(), None);
            }
        } else if current.get(&f.name).map(String::as_str) != Some(value) {
            changes.insert(f.name.clone(), Some(value.to_owned()));
        }
    }
    changes
}

/// A refused form: the caller's mistakes are shown on the form again; anything else
/// (not found, not allowed, internal) is an error page.
fn refused(session: &Session, model: &mut FormModel<'_>, e: ApiError) -> Result<Response, UiError> {
    match e {
        ApiError::InvalidField(_)
        | ApiError::UnknownProvider(_)
        | ApiError::ValidationFailed(_)
        | ApiError::Conflict(_)
        | ApiError::RateLimited { .. } => {
            let (status, detail) = e.status_and_detail();
            model.error = Some(detail);
            Ok(render(session, model, status))
        }
        other => Err(other.into()),
    }
}

/// A credential the session may manage, with its provider.
pub(crate) async fn visible<'a>(
    state: &'a AppState,
    session: &Session,
    id: &str,
) -> Result<(Credential, &'a ProviderSpec), UiError> {
    let c = load_visible(state, &session.principal, id).await?;
    let spec = state.catalog.get(c.provider.as_str()).map_err(ApiError::from)?;
    Ok((c, spec))
}

fn owner_and_provider<'a>(
    state: &'a AppState,
    session: &Session,
    owner: &str,
    provider: &str,
) -> Result<(Owner, &'a ProviderSpec), UiError> {
    let owner: Owner = owner.parse().map_err(|_| ApiError::NotFound)?;
    if !session.principal.can_manage(&owner) {
        return Err(ApiError::NotFound.into());
    }
    let spec = state.catalog.get(provider).map_err(|_| ApiError::NotFound)?;
    Ok((owner, spec))
}

fn public_values(spec: &ProviderSpec, submitted: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    submitted
        .iter()
        .filter(|(k, _)| spec.fields.iter().any(|f| &f.name == *k && !f.secret))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn parse_limit(value: &str) -> Result<Option<i64>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    value.parse::<i64>().ok().filter(|n| *n >= 0).map(Some).ok_or_else(|| {
        ApiError::InvalidField("invalid monthly limit: give a whole number of requests, or leave it empty".into())
    })
}

fn render(session: &Session, m: &FormModel<'_>, status: StatusCode) -> Response {
    let editing = m.hints.is_some();
    let title = if editing { format!("Edit {} key", m.spec.name) } else { format!("Add {} key", m.spec.name) };
    let body = html! {
        h1 { (title) }
        p class="muted" { "For " (owner_words(m.owner)) "." }
        @if let Some(error) = &m.error {
            div class="error" role="alert" id="form-error" { strong { "Not saved: " } (error) }
        }
        form method="post" action=(m.action) class="stack" aria-describedby=[m.error.as_ref().map(|_| "form-error")] {
            (csrf_field(session))
            // An edit finds owner and provider from the credential itself.
            @if !editing {
                input type="hidden" name="owner" value=(m.owner.to_string());
                input type="hidden" name="provider" value=(m.spec.id.as_str());
            }
            label for="label" { "Name " span class="muted" { "(optional, e.g. Personal)" } }
            input id="label" name="label" type="text" maxlength="100" value=(m.label);
            @for f in &m.spec.fields {
                (field_input(m, f))
            }
            label for="monthly_limit" { "Monthly limit " span class="muted" { "(requests; empty for none)" } }
            input id="monthly_limit" name="monthly_limit" type="text" inputmode="numeric" value=(m.monthly_limit);
            label class="check" {
                input type="checkbox" name="validate" value="true" checked[m.validate];
                " Test with " (m.spec.name) " before saving"
            }
            div class="actions" {
                button type="submit" { (if editing { "Save changes" } else { "Add key" }) }
                a class="button secondary" href="/ui" { "Cancel" }
            }
        }
    };
    (status, layout::page(&title, Some(session), body)).into_response()
}

fn field_input(m: &FormModel<'_>, f: &byok_core::FieldSpec) -> Markup {
    let id = format!("f-{}", f.name);
    let help_id = format!("{id}-help");
    let editing = m.hints.is_some();
    let hint = m.hints.and_then(|h| h.get(&f.name));
    let required = f.required && !(editing && f.secret);
    let help = match (f.secret, hint, &f.example) {
        (true, Some(hint), _) => Some(format!("Now {hint}. Leave empty to keep it.")),
        (true, None, _) if editing => Some("Not set. Leave empty to keep it unset.".to_owned()),
        (_, _, Some(example)) => Some(format!("e.g. {example}")),
        _ => None,
    };
    html! {
        label for=(id) {
            (field_label(m.spec, &f.name))
            @if required { span class="muted" { " (required)" } }
        }
        @if f.secret {
            input id=(id) name={ (FIELD_PREFIX) (f.name) } type="password" autocomplete="new-password"
                spellcheck="false" required[required] aria-describedby=[help.as_ref().map(|_| &help_id)];
        } @else {
            input id=(id) name={ (FIELD_PREFIX) (f.name) } type="text" autocomplete="off" spellcheck="false"
                value=(m.config.get(&f.name).map(String::as_str).unwrap_or_default())
                required[required] aria-describedby=[help.as_ref().map(|_| &help_id)];
        }
        @if let Some(help) = help {
            small id=(help_id) class="muted" { (help) }
        }
    }
}

pub(crate) fn owner_words(owner: &Owner) -> String {
    match owner {
        Owner::Org(org) => format!("organization {org}"),
        Owner::User(user) => format!("you ({user})"),
        Owner::Platform => "the platform".to_owned(),
    }
}
