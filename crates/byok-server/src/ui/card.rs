//! A provider's card: the owner's keys for it, their status and usage, and what can
//! be done with them.

use std::collections::BTreeMap;

use byok_core::{Owner, ProviderSpec};
use maud::{Markup, html};

use crate::routes::ProviderAvailability;
use crate::ui::layout::{badge, csrf_field, when};
use crate::ui::session::Session;
use crate::ui::settings::{Tested, slug};
use crate::views::CredentialView;

/// The platform key resolve would use for a provider, described for people.
pub(crate) struct PlatformOffer {
    /// Its label, or the environment variables it comes from.
    pub source: String,
    pub hints: BTreeMap<String, String>,
}

/// What a card shows of a provider for one owner.
pub(crate) struct CardData<'a> {
    pub credentials: Vec<&'a CredentialView>,
    pub platform: Option<&'a PlatformOffer>,
    /// Whether a request for this owner would find a key, and where.
    pub availability: Option<&'a ProviderAvailability>,
}

pub(crate) fn provider_card(
    session: &Session,
    owner: &Owner,
    spec: &ProviderSpec,
    data: &CardData<'_>,
    tested: Option<&Tested>,
) -> Markup {
    let CardData { credentials, platform, availability } = data;
    let card_id = format!("card-{}-{}", slug(owner), spec.id);
    let has_enabled = credentials.iter().any(|c| c.enabled);
    let add_href = format!("/ui/credentials/new?owner={}&provider={}", encode(&owner.to_string()), spec.id);
    html! {
        article class="card" id=(card_id) aria-labelledby={ (card_id) "-name" } {
            h4 id={ (card_id) "-name" } { (spec.name) }
            @if let Some(a) = availability {
                (available(a))
            }
            @if credentials.is_empty() {
                p class="muted" { "Not connected." }
            }
            @for c in credentials {
                (credential(session, spec, c, tested.filter(|t| t.credential_id == c.id)))
            }
            p class="actions" {
                a class="button" href=(add_href) { "Add key" span class="vh" { " for " (spec.name) } }
            }
            @if let Some(offer) = *platform {
                @let key = describe(spec, offer);
                @if has_enabled {
                    form method="post" action="/ui/platform" class="platform" {
                        (csrf_field(session))
                        input type="hidden" name="owner" value=(owner.to_string());
                        input type="hidden" name="provider" value=(spec.id.as_str());
                        button type="submit" class="secondary" {
                            "Use platform credentials instead" span class="vh" { " for " (spec.name) }
                        }
                        p class="muted" { "Disables these keys; byok then uses " (key) "." }
                    }
                } @else {
                    p class="muted platform-note" { "Without a key here, byok uses " (key) "." }
                }
            }
        }
    }
}

fn credential(session: &Session, spec: &ProviderSpec, c: &CredentialView, tested: Option<&Tested>) -> Markup {
    let name = key_name(&c.label, spec);
    let base = format!("/ui/credentials/{}", c.id);
    html! {
        div class="credential" id={ "cred-" (c.id) } {
            p class="cred-head" {
                strong { (name) } " " (badge(&c.status))
            }
            dl class="facts" {
                @for (field, hint) in &c.secret_hints {
                    dt { (field_label(spec, field)) } dd { code { (hint) } }
                }
                @for (field, value) in &c.config {
                    dt { (field_label(spec, field)) } dd { (value) }
                }
                dt { "Last tested" }
                dd { (c.last_tested_at.as_deref().map_or_else(|| "Never".to_owned(), when)) }
                dt { "Usage" }
                dd { (usage(c)) }
                @if byok_providers::mints_short_lived(spec) {
                    dt { "Short-lived tokens" }
                    dd class="short-lived" { (short_lived(&c.status)) }
                }
            }
            @if let (Some(message), None) = (&c.status_message, tested) {
                p class="status-message" { (message) }
            }
            @if let Some(tested) = tested {
                @match &tested.result {
                    Ok(result) => p class={ "test-result test-" (result.outcome) } role="status" {
                        "Test: " strong { (outcome_label(result.outcome)) } " — " (result.message)
                        " (" (result.latency_ms) " ms)"
                    },
                    Err(reason) => p class="test-result test-invalid" role="alert" { "Test not run: " (reason) },
                }
            }
            div class="actions" {
                form method="post" action={ (base) "/test" } class="inline" {
                    (csrf_field(session))
                    button type="submit" { "Test connection" span class="vh" { " of " (name) } }
                }
                a class="button secondary" href={ (base) "/edit" } { "Edit" span class="vh" { " " (name) } }
                form method="post" action={ (base) "/enabled" } class="inline" {
                    (csrf_field(session))
                    input type="hidden" name="enabled" value=(if c.enabled { "false" } else { "true" });
                    button type="submit" class="secondary" {
                        (if c.enabled { "Disable" } else { "Enable" }) span class="vh" { " " (name) }
                    }
                }
                a class="button danger" href={ (base) "/delete" } { "Delete" span class="vh" { " " (name) } }
            }
        }
    }
}

/// Whether a cloud credential can mint short-lived tokens: its connection test mints
/// one, so its status says.
fn short_lived(status: &str) -> &'static str {
    match status {
        "connected" => "Can be minted (the last test minted one).",
        "restricted" | "error" => "Cannot be minted: see the last test.",
        "verifying" => "Being tested.",
        _ => "Not tested yet: test the connection to find out.",
    }
}

/// Whether requests for this owner find a key, and from which tier.
fn available(a: &ProviderAvailability) -> Markup {
    let (class, text) = match (a.usable, a.source, a.reason) {
        (true, Some("user"), _) => ("available", "Available: your own key is used."),
        (true, Some("org"), _) => ("available", "Available: the organization's key is used."),
        (true, _, _) => ("available", "Available: the platform's key is used."),
        (false, _, Some("quota_exhausted")) => ("unavailable", "Not available: every key is at its monthly limit."),
        (false, _, _) => ("unavailable", "Not available: no key."),
    };
    html! { p class={ "availability " (class) } data-source=[a.source] { (text) } }
}

fn usage(c: &CredentialView) -> Markup {
    let u = &c.usage;
    html! {
        @if let Some(limit) = u.monthly_limit {
            progress max=(limit.max(1)) value=(u.period.min(limit)) aria-label="Requests this month against the limit" {}
            " " (u.period) " of " (limit) " requests this month"
        } @else {
            (u.period) " requests this month (no limit)"
        }
        @if let Some(budget) = u.monthly_token_limit {
            br;
            progress max=(budget.max(1)) value=(u.tokens_period.min(budget)) aria-label="Tokens this month against the budget" {}
            " " (u.tokens_period) " of " (budget) " tokens this month"
        } @else if u.tokens_period > 0 {
            ", " (u.tokens_period) " tokens"
        }
        @if let Some(alert) = limit_alert(u.period, u.monthly_limit) {
            (alert)
        }
    }
}

/// Tells the owner's managers a key is at, or near (80 %), its monthly limit.
fn limit_alert(used: i64, limit: Option<i64>) -> Option<Markup> {
    let limit = limit.filter(|l| *l > 0)?;
    if used >= limit {
        Some(html! { p class="limit-alert at-limit" role="status" {
            "At its monthly limit: requests go to the next key, or are refused, until the period ends."
        } })
    } else if used * 5 >= limit * 4 {
        Some(html! { p class="limit-alert near-limit" role="status" {
            "Near its monthly limit: " (limit - used) " requests left this period."
        } })
    } else {
        None
    }
}

fn describe(spec: &ProviderSpec, offer: &PlatformOffer) -> String {
    let hints: Vec<&str> = offer.hints.values().map(String::as_str).collect();
    if hints.is_empty() {
        format!("the platform's {} key {}", spec.name, offer.source)
    } else {
        format!("the platform's {} key {} ({})", spec.name, offer.source, hints.join(", "))
    }
}

/// What a key is called on the page: its label, or the provider's name.
pub(crate) fn key_name(label: &str, spec: &ProviderSpec) -> String {
    if label.is_empty() { format!("{} key", spec.name) } else { label.to_owned() }
}

pub(crate) fn field_label<'a>(spec: &'a ProviderSpec, field: &'a str) -> &'a str {
    spec.fields.iter().find(|f| f.name == field).map_or(field, |f| f.label.as_str())
}

fn outcome_label(outcome: &str) -> &'static str {
    match outcome {
        "connected" => "Connected",
        "restricted" => "Connected with restrictions",
        "invalid" => "Refused",
        _ => "Provider unavailable",
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
