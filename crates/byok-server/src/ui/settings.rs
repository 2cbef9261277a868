//! `GET /ui`: the signed-in person's integrations, and those of every org their token
//! manages, as a card per catalog provider.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use byok_core::{Credential, Owner, Status};
use byok_store::CredentialFilter;
use maud::{Markup, html};
use serde::Deserialize;

use crate::routes::{ProviderAvailability, TestResult, availability_of};
use crate::sealing::current_period;
use crate::token_counts::token_counts;
use crate::ui::card::{CardData, PlatformOffer, provider_card};
use crate::ui::error::UiError;
use crate::ui::groups::grouped;
use crate::ui::layout;
use crate::ui::session::Session;
use crate::views::CredentialView;
use crate::{ApiError, AppState};

const PAGE: u32 = 500;

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    notice: Option<String>,
}

/// A connection test's result, shown in its credential's card.
pub(crate) struct Tested {
    pub credential_id: String,
    pub result: Result<TestResult, String>,
}

/// One owner's part of the page.
struct Section {
    owner: Owner,
    heading: String,
    credentials: Vec<CredentialView>,
    /// Whether this owner's requests may fall back to platform credentials.
    allows_platform: bool,
    /// Per provider, whether this owner's requests find a key and where.
    availability: HashMap<String, ProviderAvailability>,
}

/// Seconds after which a page showing a test under way reloads itself.
const VERIFYING_REFRESH_SECS: u32 = 3;

pub(crate) async fn settings_page(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, UiError> {
    let notice = query.ok().and_then(|Query(q)| q.notice).and_then(|n| notice_text(&n));
    Ok(render(&state, &session, notice, None).await?.into_response())
}

/// The whole settings page, with an optional notice and test result.
pub(crate) async fn render(
    state: &AppState,
    session: &Session,
    notice: Option<&'static str>,
    tested: Option<&Tested>,
) -> Result<Markup, ApiError> {
    let sections = sections(state, session).await?;
    let offers = platform_offers(state).await?;
    let shown = grouped(
        state
            .catalog
            .providers()
            .filter(|p| state.settings.ui_providers.as_ref().is_none_or(|only| only.contains(&p.id))),
    );
    let verifying = sections.iter().flat_map(|s| &s.credentials).any(|c| c.status == "verifying");
    let body = html! {
        h1 { "Integrations" }
        p class="lead" { "Connect your own accounts. Keys are sealed as soon as they arrive and never shown again." }
        @if let Some(notice) = notice {
            p class="notice" role="status" { (notice) }
        }
        @for section in &sections {
            section class="owner" aria-labelledby={ "h-" (slug(&section.owner)) } {
                h2 id={ "h-" (slug(&section.owner)) } { (section.heading) }
                @if !section.allows_platform {
                    p class="policy" { "This organization uses its own keys only: no platform key is used for its members." }
                }
                @for (heading, providers) in &shown {
                    @let group_id = format!("g-{}-{}", slug(&section.owner), heading.to_lowercase());
                    div class="group" role="group" aria-labelledby=(group_id) {
                        h3 class="group-heading" id=(group_id) { (heading) }
                        div class="cards" {
                            @for spec in providers {
                                @let data = CardData {
                                    credentials: section.credentials.iter().filter(|c| c.provider == spec.id.as_str()).collect(),
                                    platform: offers.get(spec.id.as_str()).filter(|_| section.allows_platform),
                                    availability: section.availability.get(spec.id.as_str()),
                                };
                                (provider_card(session, &section.owner, spec, &data, tested))
                            }
                        }
                    }
                }
            }
        }
    };
    let refresh = verifying.then(|| VERIFYING_REFRESH_SECS.to_string());
    Ok(layout::page_refreshed("Integrations", Some(session), body, refresh.as_deref()))
}

/// The signed-in user's section, then one per managed org.
async fn sections(state: &AppState, session: &Session) -> Result<Vec<Section>, ApiError> {
    let mut owners: Vec<Owner> = session.principal.owner.iter().cloned().collect();
    owners.extend(session.principal.manage_orgs.iter().cloned().map(Owner::Org));
    let credentials = credentials_of(state, owners.clone()).await?;
    let tokens = token_counts(state, &credentials).await?;
    let period = current_period(state);
    let mut sections = Vec::new();
    for owner in owners {
        let (heading, allows_platform, available) = match &owner {
            Owner::Org(org) => (
                format!("Organization {org}"),
                state.store.org_allows_platform(org).await?,
                availability_of(state, &session.principal, None, Some(org)).await?,
            ),
            Owner::User(user) => (
                "Your integrations".to_owned(),
                true,
                availability_of(state, &session.principal, Some(user), None).await?,
            ),
            Owner::Platform => ("Platform".to_owned(), true, Vec::new()),
        };
        let availability = available.into_iter().map(|a| (a.provider.clone(), a)).collect();
        let credentials = credentials
            .iter()
            .filter(|c| c.owner == owner)
            .map(|c| CredentialView::new(c, period).with_tokens(tokens.get(&c.id)))
            .collect();
        sections.push(Section { owner, heading, credentials, allows_platform, availability });
    }
    Ok(sections)
}

/// Every credential of `owners`, in priority order within a provider.
pub(crate) async fn credentials_of(state: &AppState, owners: Vec<Owner>) -> Result<Vec<Credential>, ApiError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let filter = CredentialFilter {
            owners: Some(owners.clone()),
            provider: None,
            exclude_platform: false,
            after,
            limit: PAGE,
        };
        let page = state.store.list_credentials(&filter).await?;
        after = page.last().map(|c| c.id);
        let done = page.len() < PAGE as usize;
        all.extend(page);
        if done {
            break;
        }
    }
    all.sort_by_key(|c| (c.priority, c.id));
    Ok(all)
}

/// Per provider, the platform key resolve would use when an owner has none: the first
/// usable stored platform credential, else one from the environment.
async fn platform_offers(state: &AppState) -> Result<HashMap<String, PlatformOffer>, ApiError> {
    let mut offers = HashMap::new();
    for c in credentials_of(state, vec![Owner::Platform]).await? {
        let usable = c.enabled && c.status != Status::Error;
        if usable && !offers.contains_key(c.provider.as_str()) {
            let label = if c.label.as_str().is_empty() { "unnamed".to_owned() } else { c.label.as_str().to_owned() };
            offers
                .insert(c.provider.to_string(), PlatformOffer { source: format!("“{label}”"), hints: c.secret_hints });
        }
    }
    for env in &state.platform_env.credentials {
        offers.entry(env.provider.to_string()).or_insert_with(|| PlatformOffer {
            source: format!("from {}", env.variables.join(" and ")),
            hints: env.hints(),
        });
    }
    Ok(offers)
}

/// An id-safe form of an owner, for HTML ids.
pub(crate) fn slug(owner: &Owner) -> String {
    owner.to_string().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

fn notice_text(notice: &str) -> Option<&'static str> {
    Some(match notice {
        "added" => "Key added.",
        "saved" => "Changes saved.",
        "deleted" => "Key deleted.",
        "enabled" => "Key enabled.",
        "disabled" => "Key disabled.",
        "platform" => "Your keys for that provider are disabled: the platform's key is used instead.",
        _ => return None,
    })
}
